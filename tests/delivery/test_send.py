"""Sending an issue through the ledger: everyone once, nobody twice, state kept exact."""

import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from mailer.db import utcnow
from mailer.delivery import batches, content, lifecycle, start
from mailer.delivery.facade import send_now
from mailer.delivery.models import Batch, BatchStatus, Delivery, DeliveryStatus
from mailer.events import reconcile
from mailer.issues import reasons
from mailer.issues.models import Issue
from mailer.issues.service import transition
from mailer.issues.states import IssueStatus
from mailer.kv import MemoryStore
from mailer.mail.senders import OutboxSender, SendError, SendResult
from subscribers import service as subscribers
from tests.factories import shown_statuses, start_send

pytestmark = pytest.mark.usefixtures("subscribers_by_lang")  # this module's issue has readers


def _emls(settings) -> list[Path]:
    return sorted(Path(settings.outbox_dir).rglob("*.eml"))


def test_send_reaches_every_active_subscriber_once(session, issue, settings, runtime):
    send_now(runtime, issue.number)
    session.expire_all()
    assert session.get(Issue, issue.id).status == IssueStatus.SENT
    files = _emls(settings)
    assert len(files) == 9
    assert set(shown_statuses(session)) == {DeliveryStatus.SENT}
    # the batch's acceptance is the record: no row was written for it
    assert set(session.scalars(select(Delivery.status))) == {DeliveryStatus.QUEUED}
    assert all(
        b.status == BatchStatus.ACCEPTED and b.message_id for b in session.scalars(select(Batch))
    )


def test_running_a_batch_again_sends_nothing(session, issue, settings, runtime):
    batch_ids = send_now(runtime, issue.number)
    before = {p: p.stat().st_mtime_ns for p in _emls(settings)}
    sender = OutboxSender(settings.outbox_dir)
    for batch_id in batch_ids:
        assert (
            batches.send_batch(
                session, batch_id, sender=sender, settings=settings, store=MemoryStore()
            ).status
            == "skipped"
        )
    assert {p: p.stat().st_mtime_ns for p in _emls(settings)} == before


def test_an_unsubscribe_after_the_snapshot_is_honoured(session, issue, settings):
    batch_ids = start_send(session, issue, settings, utcnow())
    session.commit()
    leaver = subscribers.get_by_email(session, "ko0@example.com")
    subscribers.unsubscribe(session, leaver.id)
    session.commit()
    for batch_id in batch_ids:
        batches.send_batch(
            session,
            batch_id,
            sender=OutboxSender(settings.outbox_dir),
            settings=settings,
            store=MemoryStore(),
        )
    d = session.scalar(select(Delivery).where(Delivery.subscriber_id == leaver.id))
    assert d.status == DeliveryStatus.SUPPRESSED  # not sent, and not for a cancel
    assert session.get(Batch, d.batch_id).suppressed == 1
    assert len(_emls(settings)) == 8


def test_a_subscriber_erased_while_the_ledger_was_written_is_not_mailed_nor_kept(
    session, issue, settings
):
    """Without a foreign key nothing stops an erasure racing the ledger's INSERT: the send clears the
    ledger's copy of the address, as mailer.events.privacy.erase would have."""
    from subscribers.models import Subscriber

    batch_ids = start_send(session, issue, settings, utcnow())
    session.commit()
    gone = subscribers.get_by_email(session, "ko0@example.com")
    gone_id = gone.id
    session.delete(gone)  # what subscribers.service.erase does after the ledger row was written
    session.commit()
    for batch_id in batch_ids:
        batches.send_batch(
            session,
            batch_id,
            sender=OutboxSender(settings.outbox_dir),
            settings=settings,
            store=MemoryStore(),
        )
    assert session.get(Subscriber, gone_id) is None
    assert session.scalar(select(Delivery).where(Delivery.email == "ko0@example.com")) is None
    assert session.scalar(select(Delivery).where(Delivery.subscriber_id == gone_id)) is None
    assert (
        session.scalar(select(Delivery).where(Delivery.email.is_(None))).status
        == DeliveryStatus.SUPPRESSED
    )
    assert len(_emls(settings)) == 8


def test_a_paused_issue_hands_batches_back_and_resume_finishes_it(session, issue, settings):
    batch_ids = start_send(session, issue, settings, utcnow())
    transition(session, issue, IssueStatus.PAUSED)
    session.commit()
    sender = OutboxSender(settings.outbox_dir)
    for batch_id in batch_ids:
        assert (
            batches.send_batch(
                session, batch_id, sender=sender, settings=settings, store=MemoryStore()
            ).status
            == BatchStatus.PENDING
        )
    assert _emls(settings) == []
    resumed = start_send(session, issue, settings, utcnow())
    session.commit()
    assert sorted(resumed) == sorted(batch_ids)
    for batch_id in resumed:
        batches.send_batch(session, batch_id, sender=sender, settings=settings, store=MemoryStore())
    session.expire_all()
    assert session.get(Issue, issue.id).status == IssueStatus.SENT
    assert len(_emls(settings)) == 9


def test_a_cancelled_issue_sends_nothing_more(session, issue, settings):
    batch_ids = start_send(session, issue, settings, utcnow())
    transition(session, issue, IssueStatus.CANCELLED)
    session.commit()
    for batch_id in batch_ids:
        batches.send_batch(
            session,
            batch_id,
            sender=OutboxSender(settings.outbox_dir),
            settings=settings,
            store=MemoryStore(),
        )
    assert _emls(settings) == []
    assert set(session.scalars(select(Delivery.status))) == {DeliveryStatus.CANCELLED}


class FlakySender:
    """Fails the first `failures` requests as a provider would, then writes to the outbox."""

    name = "flaky"

    def __init__(self, outbox, failures, kind=SendError.TRANSIENT, **error):
        self.outbox, self.failures, self.kind, self.error, self.calls = (
            outbox,
            failures,
            kind,
            error,
            0,
        )
        self.sizes = []

    def send(self, batch) -> SendResult:
        self.calls += 1
        self.sizes.append(len(batch.recipients))
        if self.calls <= self.failures:
            raise SendError(f"{self.kind} from provider", kind=self.kind, **self.error)
        return self.outbox.send(batch)


@pytest.mark.slow  # waits out most of a 2 s lease
def test_no_request_starts_too_late_in_its_lease(session, issue, settings):
    """After a refusal (here a 413, taking its time), a request that could outlive the lease is not made:
    the batch is handed back, as the sweep would take it for lost as of the lease's end."""

    class SlowTooLarge(FlakySender):
        def send(self, batch):
            time.sleep(1.05)  # past the lease (2 s) less a request's timeout (1 s)
            return super().send(batch)

    tight = settings.model_copy(update={"batch_lease_seconds": 2, "sendgrid_timeout_seconds": 1.0})
    [first, *_] = start_send(session, issue, tight, utcnow())
    session.commit()
    sender = SlowTooLarge(OutboxSender(settings.outbox_dir), failures=1, kind=SendError.TOO_LARGE)
    outcome = batches.send_batch(session, first, sender=sender, settings=tight, store=MemoryStore())
    assert (
        outcome.status == BatchStatus.RETRYING
        and outcome.retry_in == 0
        and len(outcome.spawned) == 1
    )
    assert sender.calls == 1  # the split half was not sent late
    batch = session.get(Batch, first, populate_existing=True)
    assert batch.status == BatchStatus.RETRYING and batch.leased_until is None
    assert (
        batches.send_batch(
            session, first, sender=sender, settings=tight, store=MemoryStore()
        ).status
        == BatchStatus.ACCEPTED
    )


def test_a_lease_must_outlast_a_request():
    from mailer.config import Settings

    with pytest.raises(ValueError, match="MAILER_BATCH_LEASE_SECONDS must be longer"):
        Settings(batch_lease_seconds=30, sendgrid_timeout_seconds=30)


def test_the_sweep_finishes_an_issue_left_sending_with_nothing_open(session, issue, settings):
    batch_ids = start_send(session, issue, settings, utcnow())
    session.commit()
    # the worker that closed the last batch died before it could finish the issue
    session.execute(
        update(Batch).where(Batch.id.in_(batch_ids)).values(status=BatchStatus.ACCEPTED)
    )
    session.commit()
    assert session.get(Issue, issue.id, populate_existing=True).status == IssueStatus.SENDING
    lifecycle.sweep(session, utcnow(), settings)
    assert session.get(Issue, issue.id, populate_existing=True).status == IssueStatus.SENT


def test_transient_errors_are_retried_with_backoff_then_succeed(session, issue, settings):
    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    sender = FlakySender(OutboxSender(settings.outbox_dir), failures=1)
    outcome = batches.send_batch(
        session, first, sender=sender, settings=settings, store=MemoryStore()
    )
    assert outcome.status == BatchStatus.RETRYING and 0 <= outcome.retry_in <= 4
    assert (
        batches.send_batch(
            session, first, sender=sender, settings=settings, store=MemoryStore()
        ).status
        == BatchStatus.ACCEPTED
    )
    assert session.get(Batch, first).attempts == 2


def test_a_permanent_error_fails_the_batch_and_says_why(session, issue, settings):
    batch_ids = start_send(session, issue, settings, utcnow())
    session.commit()
    sender = FlakySender(None, failures=99, kind=SendError.PERMANENT)
    for batch_id in batch_ids:
        assert (
            batches.send_batch(
                session, batch_id, sender=sender, settings=settings, store=MemoryStore()
            ).status
            == BatchStatus.FAILED
        )
    session.expire_all()
    issue = session.get(Issue, issue.id)
    assert issue.status == IssueStatus.FAILED and "3 batch(es) failed" in reasons.english(
        issue.status_reason
    )
    assert set(session.scalars(select(Delivery.status))) == {DeliveryStatus.FAILED}


def test_a_lease_is_taken_once_and_shows_in_the_batch_already_loaded(session, issue, settings):
    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    loaded = session.get(Batch, first)
    assert loaded.status == BatchStatus.PENDING and loaded.attempts == 0
    leased = batches._lease(session, first, utcnow(), settings)
    assert leased is loaded and loaded.status == BatchStatus.SENDING and loaded.attempts == 1
    assert loaded.leased_until is not None
    assert batches._lease(session, first, utcnow(), settings) is None  # taken: nobody else sends it


def test_a_batch_whose_worker_died_is_reconciled_not_blindly_resent(session, issue, settings):
    from datetime import timedelta

    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    now = utcnow()
    leased = batches._lease(
        session, first, now, settings
    )  # a worker took it, then died mid-request
    leased.request_started_at = now
    session.commit()
    assert lifecycle.sweep(session, now, settings).send == []
    lease_end = now + timedelta(seconds=settings.batch_lease_seconds)
    later = lease_end + timedelta(seconds=60)  # beat's sweep comes a while after the lease ran out
    assert (
        lifecycle.sweep(session, later, settings).reconcile == []
    )  # unknown now; waiting for evidence
    assert session.get(Batch, first, populate_existing=True).status == BatchStatus.UNKNOWN
    # SendGrid's `processed` event arrived for one recipient: it must not be mailed again
    first_delivery = session.scalars(
        select(Delivery).where(Delivery.batch_id == first).order_by(Delivery.id)
    ).first()
    first_delivery.status = DeliveryStatus.SENT
    session.commit()
    after_grace = later + timedelta(seconds=settings.reconcile_grace_seconds + 1)
    assert lifecycle.sweep(session, after_grace, settings).reconcile == [first]
    # no webhook event since the loss: the evidence may still be queued at SendGrid's end
    waiting = reconcile.reconcile_batch(session, first, after_grace, settings)
    assert waiting.status == BatchStatus.UNKNOWN and waiting.retry_in is None
    assert waiting.reconcile_in is None  # the sweep asks again every interval: no chain of its own
    # the stream has moved past the lease's end (the loss), though not past the sweep that found it
    _webhook_event_at(session, lease_end + timedelta(seconds=2))
    assert reconcile.reconcile_batch(session, first, after_grace, settings).retry_in == 0
    sender = FlakySender(OutboxSender(settings.outbox_dir), failures=0)
    assert (
        batches.send_batch(
            session, first, sender=sender, settings=settings, store=MemoryStore()
        ).status
        == BatchStatus.ACCEPTED
    )
    size = session.get(Batch, first).size
    assert sender.sizes == [size - 1]


def test_a_lost_answer_waits_for_evidence_and_resends_only_the_unconfirmed(
    session, issue, settings
):
    from datetime import timedelta

    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    sender = FlakySender(OutboxSender(settings.outbox_dir), failures=1, kind=SendError.UNKNOWN)
    outcome = batches.send_batch(
        session, first, sender=sender, settings=settings, store=MemoryStore()
    )
    assert (
        outcome.status == BatchStatus.UNKNOWN
        and outcome.reconcile_in == settings.reconcile_grace_seconds
    )
    assert (
        reconcile.reconcile_batch(session, first, utcnow(), settings).reconcile_in > 0
    )  # too early
    session.execute(
        update(Delivery).where(Delivery.batch_id == first).values(status=DeliveryStatus.DELIVERED)
    )
    session.commit()
    later = utcnow() + timedelta(seconds=settings.reconcile_grace_seconds + 1)
    assert reconcile.reconcile_batch(session, first, later, settings).status == BatchStatus.ACCEPTED
    assert sender.calls == 1  # every recipient had evidence: nothing sent again


def test_a_400_naming_recipients_drops_them_and_sends_the_rest(session, issue, settings):
    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    sender = FlakySender(
        OutboxSender(settings.outbox_dir), failures=1, kind=SendError.INVALID, invalid=(0,)
    )
    assert (
        batches.send_batch(
            session, first, sender=sender, settings=settings, store=MemoryStore()
        ).status
        == BatchStatus.ACCEPTED
    )
    statuses = shown_statuses(session, Delivery.batch_id == first)
    assert statuses[0] == DeliveryStatus.INVALID and set(statuses[1:]) == {DeliveryStatus.SENT}
    assert sender.sizes == [len(statuses), len(statuses) - 1]


def test_a_413_splits_the_batch(session, issue, settings):
    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    size = session.get(Batch, first).size
    sender = FlakySender(OutboxSender(settings.outbox_dir), failures=1, kind=SendError.TOO_LARGE)
    outcome = batches.send_batch(
        session, first, sender=sender, settings=settings, store=MemoryStore()
    )
    assert outcome.status == BatchStatus.ACCEPTED and len(outcome.spawned) == 1
    spawned = session.get(Batch, outcome.spawned[0])
    assert (
        spawned.status == BatchStatus.PENDING
        and spawned.size + session.get(Batch, first).size == size
    )
    assert (
        batches.send_batch(
            session, spawned.id, sender=sender, settings=settings, store=MemoryStore()
        ).status
        == BatchStatus.ACCEPTED
    )


def test_refused_credentials_pause_the_issue_instead_of_burning_batches(session, issue, settings):
    batch_ids = start_send(session, issue, settings, utcnow())
    session.commit()
    sender = FlakySender(None, failures=99, kind=SendError.AUTH)
    for batch_id in batch_ids:
        batches.send_batch(session, batch_id, sender=sender, settings=settings, store=MemoryStore())
    assert sender.calls == 1  # the other batches saw the pause and went back to pending
    session.expire_all()
    issue = session.get(Issue, issue.id)
    assert issue.status == IssueStatus.PAUSED and "MAILER_SENDGRID_API_KEY" in reasons.english(
        issue.status_reason
    )
    assert set(session.scalars(select(Batch.status))) == {BatchStatus.PENDING}
    assert set(session.scalars(select(Delivery.status))) == {DeliveryStatus.QUEUED}


def test_cancel_closes_every_waiting_batch(session, issue, settings):
    batch_ids = start_send(session, issue, settings, utcnow())
    session.commit()
    lifecycle.cancel_issue(session, issue, utcnow())
    session.commit()
    assert set(session.scalars(select(Batch.status))) == {BatchStatus.CANCELLED}
    assert set(session.scalars(select(Delivery.status))) == {DeliveryStatus.CANCELLED}
    assert all(
        batches.send_batch(
            session,
            b,
            sender=OutboxSender(settings.outbox_dir),
            settings=settings,
            store=MemoryStore(),
        ).status
        == "skipped"
        for b in batch_ids
    )


def test_editions_left_unstarted_by_a_crash_are_started_by_the_tick(
    session, issue, settings, runtime
):
    # `issue send` committed the issue as sending, then died before writing any edition's ledger
    start.begin_send(session, issue, utcnow())
    session.commit()
    assert session.scalars(select(Delivery)).all() == []
    batch_ids = start.start_due(session, settings, utcnow())
    session.commit()
    assert len(session.scalars(select(Delivery)).all()) == 9
    assert start.start_due(session, settings, utcnow()) == []  # each edition starts once
    runtime.tasks.send_batches(batch_ids)
    session.expire_all()
    assert session.get(Issue, issue.id).status == IssueStatus.SENT
    assert len(_emls(settings)) == 9


def test_retries_run_out_and_the_batch_fails(session, issue, settings, monkeypatch):
    monkeypatch.setattr(settings, "send_max_retries", 1)
    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    sender = FlakySender(None, failures=99)
    assert (
        batches.send_batch(
            session, first, sender=sender, settings=settings, store=MemoryStore()
        ).status
        == BatchStatus.RETRYING
    )
    assert (
        batches.send_batch(
            session, first, sender=sender, settings=settings, store=MemoryStore()
        ).status
        == BatchStatus.FAILED
    )
    assert sender.calls == 2


def test_a_rate_limit_wait_hands_the_batch_back_without_using_an_attempt(
    session, issue, settings, monkeypatch
):
    class Full:
        def reserve(self, messages, now=None):
            return 3600.0

    monkeypatch.setattr(batches, "limiter", lambda _settings, _store: Full())
    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    sender = FlakySender(OutboxSender(settings.outbox_dir), failures=0)
    for _ in range(3):
        outcome = batches.send_batch(
            session, first, sender=sender, settings=settings, store=MemoryStore()
        )
        assert outcome.status == BatchStatus.RETRYING and outcome.retry_in == 3600.0
    assert session.get(Batch, first, populate_existing=True).attempts == 0 and sender.calls == 0


def _webhook_event_at(session, when):
    """An event about someone else, timestamped by SendGrid at `when`."""
    from mailer.events import store

    store.store(
        session,
        [
            {
                "event": "delivered",
                "email": "other@example.com",
                "sg_event_id": f"x-{when}",
                "timestamp": int(when.timestamp()) + 1,
            }
        ],
        utcnow(),
    )
    session.commit()


def test_a_lost_answer_is_lost_as_of_the_end_of_its_request(session, issue, settings):
    """Not as of the task's start: a request that timed out may have been processed late in its timeout,
    and the webhook stream must pass that moment before anyone is mailed again."""
    from datetime import timedelta

    class SlowLoss(FlakySender):
        def send(self, batch):
            time.sleep(0.2)
            return super().send(batch)

    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    started = utcnow()
    sender = SlowLoss(None, failures=1, kind=SendError.UNKNOWN)
    assert (
        batches.send_batch(
            session, first, sender=sender, settings=settings, now=started, store=MemoryStore()
        ).status
        == BatchStatus.UNKNOWN
    )
    assert session.get(Batch, first, populate_existing=True).updated_at >= started + timedelta(
        seconds=0.2
    )


def test_a_lost_answer_waits_while_the_webhook_stream_lags_behind_it(session, issue, settings):
    """A backlog of events must not read as "never accepted", but no stream at all must not hold a
    batch forever either."""
    from datetime import timedelta

    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    sender = FlakySender(OutboxSender(settings.outbox_dir), failures=1, kind=SendError.UNKNOWN)
    assert (
        batches.send_batch(
            session, first, sender=sender, settings=settings, store=MemoryStore()
        ).status
        == BatchStatus.UNKNOWN
    )
    lost_at = session.get(Batch, first, populate_existing=True).updated_at
    _webhook_event_at(
        session, lost_at - timedelta(seconds=30)
    )  # the stream is half a minute behind
    after_grace = lost_at + timedelta(seconds=settings.reconcile_grace_seconds + 1)
    assert reconcile.reconcile_batch(session, first, after_grace, settings) == batches.BatchOutcome(
        BatchStatus.UNKNOWN
    )
    assert session.get(Batch, first, populate_existing=True).status == BatchStatus.UNKNOWN
    too_long = lost_at + timedelta(seconds=settings.reconcile_max_wait_seconds + 1)
    assert reconcile.reconcile_batch(session, first, too_long, settings).retry_in == 0


@pytest.mark.slow  # waits out the grace period in process
def test_without_a_broker_a_lost_answer_is_reconciled_in_process_in_a_loop(
    session, issue, settings, make_runtime, monkeypatch
):
    """No broker means no sweep: the task itself keeps asking until the wait is over, iteratively (nested
    calls ran out of stack during a long wait), and the batch is neither stuck nor sent twice."""
    from mailer import wiring

    sender = FlakySender(OutboxSender(settings.outbox_dir), failures=1, kind=SendError.UNKNOWN)
    runtime = make_runtime(
        sender=sender,
        reconcile_grace_seconds=0,
        reconcile_max_wait_seconds=1,
        maintenance_interval_seconds=1,
    )
    [first, *_] = start_send(session, issue, runtime.settings, utcnow())
    session.commit()
    monkeypatch.setattr(wiring, "IN_PROCESS_MAX_WAIT", 0.05)
    monkeypatch.setattr(time, "sleep", lambda seconds: None)  # the waits are not what is tested
    runtime.tasks.send_batches([first])
    assert sender.calls == 2  # lost once, then (no evidence after the max wait) sent once more
    assert session.get(Batch, first, populate_existing=True).status == BatchStatus.ACCEPTED


def test_an_editions_content_is_read_once_per_worker_and_again_for_a_new_start(
    session, issue, runtime
):
    from sqlalchemy import event

    from mailer.issues.models import Edition

    settings = runtime.settings.model_copy(update={"batch_size": 2})
    engine = runtime.sessions.kw["bind"]
    content.CONTENTS.clear()
    ids = start_send(session, issue, settings, utcnow())
    session.commit()
    edition = session.get(Edition, session.get(Batch, ids[0]).edition_id)
    same = [b for b in ids if session.get(Batch, b).edition_id == edition.id]
    reads = []

    def listener(conn, cursor, statement, *args):
        if "editions.html" in statement:
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        sender = OutboxSender(settings.outbox_dir)
        for batch_id in same:
            batches.send_batch(
                session, batch_id, sender=sender, settings=settings, store=MemoryStore()
            )
        assert len(same) >= 2 and len(reads) == 1
        assert content.content(session, edition.id, edition.started_at).html == edition.html
        content.content(session, edition.id, utcnow())  # a row that took the same id, started later
        assert len(reads) == 2
    finally:
        event.remove(engine, "before_cursor_execute", listener)
