"""A short database or broker outage costs seconds: a send task that meets one is retried (its lease
handed back, its attempt not counted), a pending batch whose task was lost is queued again by the
next sweeps, and a batch delivered twice mails nobody twice."""

from datetime import timedelta

import pytest
from sqlalchemy import event, update
from sqlalchemy.exc import OperationalError

from mailer.db import utcnow
from mailer.delivery import lifecycle
from mailer.delivery.models import Batch, BatchStatus
from mailer.mail.senders import OutboxSender
from tests.factories import start_send

pytestmark = pytest.mark.usefixtures("subscribers_by_lang")  # this module's issue has readers


@pytest.fixture
def blip(runtime, monkeypatch):
    """The database drops the connection once, at the first statement that contains `marker` (call
    blip.arm(marker)): what a PostgreSQL restart does to a worker's next statement."""
    engine = runtime.sessions.kw["bind"]
    armed: list[str] = []
    hits: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if armed and armed[0] in statement:
            armed.clear()
            hits.append(statement)
            raise OperationalError(
                statement, parameters, Exception("server closed the connection unexpectedly")
            )

    event.listen(engine, "before_cursor_execute", before)
    monkeypatch.setattr("mailer.delivery.tasks.store_retry_in", lambda retries: 0.01, raising=False)

    class Blip:
        hit = hits

        @staticmethod
        def arm(marker: str) -> None:
            armed[:] = [marker]

    yield Blip
    event.remove(engine, "before_cursor_execute", before)


class Counting(OutboxSender):
    """Keeps every recipient of every request (the outbox's files are overwritten, not added)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.mailed: list[int] = []

    def send(self, batch):
        self.mailed += [r.delivery_id for r in batch.recipients]
        return super().send(batch)


@pytest.fixture
def counting(settings):
    return Counting(settings.outbox_dir)


def test_a_send_that_loses_its_answer_s_commit_is_reconciled_at_once_not_a_lease_later(
    session, issue, settings, make_runtime, blip, counting, monkeypatch
):
    """The request went out (it may have been accepted), and recording its answer failed: the batch is
    `unknown` now, and its reconciliation queued for after the grace period."""
    from mailer.delivery.tasks import run_send_batch

    rt = make_runtime(sender=counting, broker_url="redis://127.0.0.1:1/0")
    published = []
    monkeypatch.setattr(
        rt.tasks.celery,
        "send_task",
        lambda name, args, countdown=None, **kw: published.append((name, args, countdown)),
    )
    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    blip.arm("message_id=")  # the answer's commit
    assert run_send_batch(rt, first) == BatchStatus.UNKNOWN
    batch = session.get(Batch, first, populate_existing=True)
    assert (batch.status, batch.leased_until) == (BatchStatus.UNKNOWN, None)
    assert "mid-send" in batch.last_error
    assert published == [("mailer.reconcile_batch", (first,), settings.reconcile_grace_seconds)]
    assert len(counting.mailed) == batch.size  # once: nothing resent blindly


@pytest.mark.parametrize(
    "marker",
    [
        "UPDATE batches SET status",  # the lease itself: nothing held yet
        "FROM issues JOIN editions",  # the lease held, no request gone out
    ],
)
def test_a_send_that_loses_the_database_once_is_retried_and_sends(
    session, issue, settings, make_runtime, blip, marker, counting
):
    runtime = make_runtime(sender=counting)
    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    blip.arm(marker)
    runtime.tasks.send_batches([first])  # in process: retried as a worker's task is
    assert blip.hit, "the fault was injected"
    batch = session.get(Batch, first, populate_existing=True)
    assert batch.status == BatchStatus.ACCEPTED
    assert (
        batch.attempts == 1
    )  # the lost run's lease was handed back, not counted as a send attempt
    assert len(counting.mailed) == len(set(counting.mailed)) == batch.size


def test_the_worker_task_retries_with_the_lease_it_held(
    session, issue, settings, runtime, blip, monkeypatch
):
    from mailer.celery_app import app
    from mailer.delivery import tasks

    monkeypatch.setattr(
        app, "mailer_runtime", runtime, raising=False
    )  # as a worker's start sets it
    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    blip.arm("FROM issues JOIN editions")
    assert tasks.send_batch.apply(args=(first,)).get() == BatchStatus.ACCEPTED
    batch = session.get(Batch, first, populate_existing=True)
    assert (batch.status, batch.attempts) == (BatchStatus.ACCEPTED, 1)


def test_a_lease_whose_request_may_have_gone_out_is_reconciled_not_handed_back(
    session, issue, settings
):
    from mailer.delivery import batches

    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    now = utcnow()
    leased = batches._lease(session, first, now, settings)
    held = leased.leased_until
    leased.request_started_at = now
    session.commit()
    assert (
        lifecycle.hand_back(session, first, held + timedelta(seconds=1), now) is None
    )  # another's
    assert session.get(Batch, first, populate_existing=True).status == BatchStatus.SENDING
    assert lifecycle.hand_back(session, first, held, now) == BatchStatus.UNKNOWN
    batch = session.get(Batch, first, populate_existing=True)
    assert (batch.status, batch.leased_until, batch.attempts) == (BatchStatus.UNKNOWN, None, 1)
    assert lifecycle.hand_back(session, first, held, now) is None  # settled once


def _age(session, batch_ids, seconds: float) -> None:
    session.execute(
        update(Batch)
        .where(Batch.id.in_(batch_ids))
        .values(updated_at=utcnow() - timedelta(seconds=seconds))
    )
    session.commit()


def test_a_pending_batch_whose_task_was_lost_is_queued_again_by_the_next_sweeps(
    session, issue, settings
):
    batch_ids = start_send(session, issue, settings, utcnow())
    session.commit()
    interval = settings.maintenance_interval_seconds
    _age(session, batch_ids, interval)  # one sweep: it may well be in the queue still
    assert lifecycle.sweep(session, utcnow(), settings).send == []
    _age(session, batch_ids, 2 * interval + 1)  # its task lost with a Redis restarted empty
    assert sorted(lifecycle.sweep(session, utcnow(), settings).send) == sorted(batch_ids)
    # stamped as queued again: the next sweep (or a second beat) does not queue it once more
    assert lifecycle.sweep(session, utcnow(), settings).send == []


def test_a_batch_delivered_twice_mails_nobody_twice(session, issue, settings, make_runtime):
    from mailer.delivery.tasks import run_send_batch

    inner: list[str] = []

    class Duplicate(Counting):
        """The sweep's duplicate of a task arrives while the first run is mid-request."""

        def send(self, batch):
            if not inner:
                inner.append(run_send_batch(rt, batch.batch_id))
            return super().send(batch)

    duplicate = Duplicate(settings.outbox_dir)
    rt = make_runtime(sender=duplicate)
    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    assert run_send_batch(rt, first) == BatchStatus.ACCEPTED
    assert inner == ["skipped"]
    assert run_send_batch(rt, first) == "skipped"  # and once it is done
    batch = session.get(Batch, first, populate_existing=True)
    assert batch.attempts == 1
    assert len(duplicate.mailed) == len(set(duplicate.mailed)) == batch.size
