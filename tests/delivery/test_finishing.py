"""Two workers closing the last batches at once still finish the issue."""

import threading
import time

import pytest
from sqlalchemy import select, text

from mailer.db import utcnow
from mailer.delivery import batches
from mailer.delivery.models import Batch, BatchStatus
from mailer.delivery.states import move
from mailer.issues.models import Issue
from mailer.kv import MemoryStore
from mailer.mail.senders import OutboxSender
from tests.factories import start_send

pytestmark = pytest.mark.usefixtures("subscribers_by_lang")


def _send(session, batch_id, settings):
    return batches.send_batch(
        session,
        batch_id,
        sender=OutboxSender(settings.outbox_dir),
        settings=settings,
        store=MemoryStore(),
    )


def _blocked_on_a_lock(session, seconds: float = 30.0) -> bool:
    """Whether another connection waits for a row lock, polled (it is another thread's statement)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        waiting = session.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        )
        session.rollback()
        if waiting:
            return True
        time.sleep(0.02)
    return False


def test_a_batch_closing_while_another_leaves_it_the_finish(
    database_url, session, issue, settings, runtime
):
    """Worker A closes its batch and, before its commit, sees batch P still pending, so leaves the
    finish to P's run. Worker B sends P whole meanwhile and looks for the issue's end after its commit,
    while A has not committed: B's look waits for A's row, then finishes the issue."""
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks seen in pg_stat_activity; SQLite has one writer at a time")
    *done, a, p = start_send(session, issue, settings, utcnow())
    session.commit()
    for batch_id in done:
        _send(session, batch_id, settings)
    leased = batches._lease(session, a, utcnow(), settings)
    leased.request_started_at = utcnow()
    session.commit()  # A's request goes out
    move(leased, BatchStatus.ACCEPTED)
    assert batches._others_waiting(session, leased)  # P is pending: A leaves the finish to it
    outcomes = []
    with runtime.session() as other, runtime.session() as watcher:
        worker_b = threading.Thread(target=lambda: outcomes.append(_send(other, p, settings)))
        worker_b.start()
        try:
            assert _blocked_on_a_lock(watcher)  # B's look waits for A's row
        finally:
            session.commit()  # A commits, and looks no further
            worker_b.join(30)
    assert [o.status for o in outcomes] == [BatchStatus.ACCEPTED]
    assert session.scalar(select(Issue.status).where(Issue.id == issue.id)) == "sent"
    assert set(session.scalars(select(Batch.status).where(Batch.issue_id == issue.id))) == {
        BatchStatus.ACCEPTED
    }
