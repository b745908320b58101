"""How a send task talks to PostgreSQL: one commit before the request holds the lease, the read of the
batch (planned without parallel workers) and the request mark, and waits for the disk; one after it
closes the batch without waiting; a third looks whether the issue is done only when no other batch is
waiting to be sent."""

import pytest
from sqlalchemy import event, text

from mailer.db import utcnow
from mailer.delivery import batches
from mailer.kv import MemoryStore
from mailer.mail.senders import OutboxSender, SendResult
from tests.factories import start_send

pytestmark = pytest.mark.usefixtures("subscribers_by_lang")


@pytest.fixture
def postgres(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("parallel plans are PostgreSQL's")


def _setting(session, name: str) -> str:
    return session.execute(text(f"SHOW {name}")).scalar_one()


def _send(session, batch_id, settings, seen=None) -> list[list[str]]:
    """Sends the batch; returns the statements of each transaction, in order."""
    engine = session.get_bind()
    transactions: list[list[str]] = [[]]

    def statement(conn, cursor, sql, params, context, executemany):
        if not sql.startswith("SHOW"):  # the test's own
            transactions[-1].append(" ".join(sql.split()))

    def committed(conn):
        transactions.append([])

    class Watching(OutboxSender):
        def send(self, batch):
            if seen is not None:
                seen.append(_setting(session, "max_parallel_workers_per_gather"))
            return super().send(batch)

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", committed)
    try:
        outcome = batches.send_batch(
            session,
            batch_id,
            sender=Watching(settings.outbox_dir),
            settings=settings,
            store=MemoryStore(),
        )
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", committed)
    assert outcome.status == "accepted"
    return [t for t in transactions if t]


def test_a_batch_goes_out_in_two_commits_while_others_wait(postgres, session, issue, settings):
    batch_ids = start_send(session, issue, settings, utcnow())
    session.commit()
    assert len(batch_ids) > 1
    default = _setting(session, "max_parallel_workers_per_gather")
    assert default != "0"  # else this test could not fail
    seen: list[str] = []
    before, after = _send(session, batch_ids[0], settings, seen)
    assert before[0] == "SET LOCAL max_parallel_workers_per_gather = 0"
    assert (
        before[1].startswith("UPDATE batches SET status") and "RETURNING" in before[1]
    )  # the lease
    assert any(s.startswith("SELECT deliveries.id") for s in before)  # the read
    assert "SET request_started_at" in before[-1]  # the mark, committed before the request
    assert seen == [default]  # for its transaction only: reports keep their parallel plans
    assert after[0].startswith("UPDATE batches SET status")  # accepted
    assert "FOR SHARE" not in " ".join(after)  # another batch waits: no look for the issue's end
    # the mark's commit waits for the disk; the closing one need not (a crash that loses it leaves
    # what a worker dying before it leaves)
    assert "SET LOCAL synchronous_commit = off" in after
    assert not any("synchronous_commit" in s for s in before)


def test_the_last_batch_finishes_the_issue(postgres, session, issue, settings):
    batch_ids = start_send(session, issue, settings, utcnow())
    session.commit()
    for batch_id in batch_ids[:-1]:
        assert len(_send(session, batch_id, settings)) == 2
    *_, finishing = _send(session, batch_ids[-1], settings)
    assert "FOR SHARE" in finishing[0]
    assert any(s.startswith("UPDATE issues SET status") for s in finishing)
    session.refresh(issue)
    assert issue.status == "sent"


class _Nowhere:
    """Accepts every batch and keeps nothing: a thousand recipients, no thousand files."""

    name = "nowhere"

    def send(self, batch):
        return SendResult(message_id="nowhere")


def test_a_batch_looks_its_readers_up_by_id_however_long_the_list(
    postgres, session, issue, settings
):
    # A list long enough, and a batch full enough, that a join would read every subscriber for each
    # batch (into a hash, or along the whole key to merge).
    session.execute(
        text(
            "INSERT INTO subscribers (email, lang, status, consent_source, created_at, updated_at)"
            " SELECT 'many' || g || '@example.com', 'ko', CASE WHEN g <= 2000 THEN 'active'"
            " ELSE 'unsubscribed' END, 'test', now(), now() FROM generate_series(1, 30000) g"
        )
    )
    session.commit()
    session.execute(text("ANALYZE subscribers"))
    batch_ids = start_send(session, issue, settings, utcnow())
    session.commit()
    session.execute(text("ANALYZE deliveries"))
    session.commit()
    engine, read = session.get_bind(), []

    def statement(conn, cursor, sql, params, context, executemany):
        if sql.lstrip().startswith("SELECT deliveries.id"):
            read.append((sql, params))

    event.listen(engine, "before_cursor_execute", statement)
    try:
        outcome = batches.send_batch(
            session, batch_ids[0], sender=_Nowhere(), settings=settings, store=MemoryStore()
        )
    finally:
        event.remove(engine, "before_cursor_execute", statement)
    assert outcome.status == "accepted"
    [(sql, params)] = read
    raw = session.connection().connection.driver_connection
    plan = "\n".join(row[0] for row in raw.execute("EXPLAIN " + sql, params).fetchall())
    session.rollback()
    # each reader looked up by id, not every subscriber read (a hash, a merge over the whole key)
    assert "Index Cond: (id = deliveries.subscriber_id)" in plan, plan
