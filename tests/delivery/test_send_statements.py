"""How a send task talks to PostgreSQL: a batch's read runs without parallel workers, and of its
commits only the lease's skips the wait for the disk, the request mark's (before any request) waits,
and flushes the lease's with it."""

import pytest
from sqlalchemy import event, text

from mailer.db import utcnow
from mailer.delivery import batches
from mailer.kv import MemoryStore
from mailer.mail.senders import OutboxSender
from mailer.rendering.placeholders import tags
from tests.factories import start_send

pytestmark = pytest.mark.usefixtures("subscribers_by_lang")


@pytest.fixture
def postgres(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("parallel plans and synchronous commit are PostgreSQL's")


def _setting(session, name: str) -> str:
    return session.execute(text(f"SHOW {name}")).scalar_one()


def test_a_batch_reads_its_recipients_without_parallel_workers(postgres, session, issue, settings):
    batch_ids = start_send(session, issue, settings, utcnow())
    session.commit()
    default = _setting(session, "max_parallel_workers_per_gather")
    assert default != "0"  # else this test could not fail
    batch = batches._lease(session, batch_ids[0], utcnow(), settings)
    recipients, _ = batches._recipients(session, batch, settings, tags(None))
    assert recipients
    assert _setting(session, "max_parallel_workers_per_gather") == "0"
    session.commit()  # for its transaction only: reports keep their parallel plans
    assert _setting(session, "max_parallel_workers_per_gather") == default


def test_only_the_lease_commits_without_waiting_for_the_disk(postgres, session, issue, settings):
    batch_ids = start_send(session, issue, settings, utcnow())
    session.commit()
    engine = session.get_bind()
    transactions: list[list[str]] = [[]]

    def statement(conn, cursor, sql, params, context, executemany):
        transactions[-1].append(" ".join(sql.split()))

    def committed(conn):
        transactions.append([])

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", committed)
    try:
        outcome = batches.send_batch(
            session,
            batch_ids[0],
            sender=OutboxSender(settings.outbox_dir),
            settings=settings,
            store=MemoryStore(),
        )
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", committed)
    assert outcome.status == "accepted"
    relaxed = [t for t in transactions if "SET LOCAL synchronous_commit = off" in t]
    assert len(relaxed) == 1
    assert any(s.startswith("UPDATE batches SET status") for s in relaxed[0])  # the lease
    assert "RETURNING" in " ".join(relaxed[0])
    marked = [t for t in transactions if any("SET request_started_at" in s for s in t)]
    assert marked and all(t not in relaxed for t in marked)
