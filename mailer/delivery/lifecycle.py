"""An issue's send from the outside: resume, pause, cancel, finish, and beat's sweep for what was lost.

A batch moves pending -> sending (leased) -> accepted | retrying | unknown | failed | cancelled (the
table of moves: delivery/states.py); the issue is `sent` (or `failed`) once none is open and every
edition's ledger is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.delivery.models import Batch, BatchStatus, Delivery, DeliveryStatus
from mailer.delivery.states import BATCH_OPEN, LEASABLE, moving
from mailer.issues import reasons
from mailer.issues.models import Edition, Issue
from mailer.issues.service import transition
from mailer.issues.states import InvalidTransition, IssueStatus


def open_batches(session: Session, issue_id: int) -> list[int]:
    """Batches waiting for a worker (pending or retrying)."""
    return list(
        session.scalars(
            select(Batch.id)
            .where(Batch.issue_id == issue_id, Batch.status.in_(LEASABLE))
            .order_by(Batch.id)
        )
    )


def resume_issue(session: Session, issue: Issue) -> list[int]:
    """A paused issue goes on: its batches that were handed back are sent again (returns their ids)."""
    transition(session, issue, IssueStatus.SENDING, status_reason=None)
    return open_batches(session, issue.id)


def pause_issue(session: Session, issue: Issue, reason: str | None = None) -> None:
    """Batches in flight finish their request; the others are handed back when a worker picks them up.
    `reason` is stored as given: one of mailer.issues.reasons' codes, or plain text."""
    transition(session, issue, IssueStatus.PAUSED, status_reason=reason)


def cancel_issue(session: Session, issue: Issue, now: datetime) -> None:
    """Stop for good: every batch not in flight is closed now, with its waiting deliveries."""
    transition(
        session,
        issue,
        IssueStatus.CANCELLED,
        finished_at=now,
        status_reason=reasons.cancelled(),
    )
    closing = [BatchStatus.PENDING, BatchStatus.RETRYING, BatchStatus.UNKNOWN]
    batch_ids = select(Batch.id).where(Batch.issue_id == issue.id, Batch.status.in_(closing))
    session.execute(
        update(Delivery)
        .where(
            Delivery.issue_id == issue.id,  # PostgreSQL: the issue's ledger partition alone
            Delivery.batch_id.in_(batch_ids),
            Delivery.status == DeliveryStatus.QUEUED,
        )
        .values(status=DeliveryStatus.CANCELLED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        moving(BatchStatus.CANCELLED, from_=closing)
        .where(Batch.issue_id == issue.id)
        .values(leased_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def finish_issue_if_done(session: Session, issue_id: int, now: datetime) -> bool:
    """When no batch is open any more: `sent`, or `failed` if every batch failed."""
    # While any is open (almost always), one indexed probe answers it. It waits for a row that another
    # transaction is closing (FOR SHARE on PostgreSQL; SQLite has one writer at a time): that worker
    # may have left the finish to this one's batch, seen waiting before its commit (batches._others_waiting).
    if session.scalar(
        select(Batch.id)
        .where(Batch.issue_id == issue_id, Batch.status.in_(BATCH_OPEN))
        .limit(1)
        .with_for_update(read=True)
    ):
        return False
    counts = dict(
        session.execute(
            select(Batch.status, func.count())
            .where(Batch.issue_id == issue_id)
            .group_by(Batch.status)
        ).all()
    )
    if any(counts.get(s, 0) for s in BATCH_OPEN):  # one opened since the probe (a split, a retry)
        return False
    waiting = session.scalar(
        select(func.count()).where(
            Edition.issue_id == issue_id,
            or_(Edition.started_at.is_(None), Edition.ledger_done_at.is_(None)),
        )
    )
    if waiting:  # an edition with a later send time, or a ledger still being written, keeps the issue `sending`
        return False
    issue = session.get_one(Issue, issue_id, populate_existing=True)
    if issue.status != IssueStatus.SENDING:
        return False
    failed = counts.get(BatchStatus.FAILED, 0)
    all_failed = failed and failed == sum(counts.values())
    try:
        transition(
            session,
            issue,
            IssueStatus.FAILED if all_failed else IssueStatus.SENT,
            finished_at=now,
            status_reason=reasons.batches_failed(failed) if failed else None,
        )
    except InvalidTransition:  # another worker finished it first
        return False
    return True


def hand_back(
    session: Session, batch_id: int, leased_until: datetime, now: datetime
) -> BatchStatus | None:
    """A lease whose run lost the database: that run is over, so the lease need not lapse. Without
    the request mark nothing of it went out: `pending` again, the attempt not counted against the send
    retries. With it, a request may have gone out and its answer is lost as of now: `unknown`,
    reconciled from webhook evidence as a lapsed lease would be, a lease sooner. Returns the new
    status, or None when the lease is no longer this run's (taken since, moved on, or its last commit
    went through after all)."""
    held = (Batch.id == batch_id, Batch.leased_until == leased_until)
    for status, unsent, error in (
        (BatchStatus.PENDING, True, "the database stopped answering before its request went out"),
        (BatchStatus.UNKNOWN, False, "the database stopped answering mid-send: reconciled"),
    ):
        move = moving(status, from_=[BatchStatus.SENDING]).where(*held)
        if unsent:  # and the attempt is not counted
            move = move.where(Batch.request_started_at.is_(None)).values(
                attempts=Batch.attempts - 1
            )
        won = session.execute(
            move.values(leased_until=None, updated_at=now, last_error=error).execution_options(
                synchronize_session=False
            )
        ).rowcount  # type: ignore[attr-defined]  # DML gives a CursorResult
        session.commit()
        if won:
            return status
    return None


def lost_after(settings: Settings) -> timedelta:
    """How long a pending batch of a sending issue may wait before the sweep queues it again: two
    sweeps. Its task may have been lost (a broker restarted empty, a task that died on a database blip
    before it took the lease); one still queued makes a duplicate, which the lease turns away."""
    return timedelta(seconds=2 * settings.maintenance_interval_seconds)


@dataclass
class Sweep:
    send: list[int]
    reconcile: list[int]


def sweep(session: Session, now: datetime, settings: Settings) -> Sweep:
    """The periodic safety net. A batch whose worker died before its request went out goes out again at
    once; one whose worker died mid-request may have been sent, so it becomes `unknown` (reconciled, never
    blindly resent), at once if webhook evidence covers it, else once its lease lapses; a pending batch
    that waited two sweeps for a worker (its task may be lost), or a retrying one that waited a whole
    lease, is queued again."""
    sending_issues = select(Issue.id).where(Issue.status == IssueStatus.SENDING)
    lapsed = Batch.leased_until < now  # of a batch still `sending`
    never_sent = session.scalars(
        moving(BatchStatus.PENDING, from_=[BatchStatus.SENDING])
        .where(lapsed, Batch.request_started_at.is_(None))
        .values(
            leased_until=None,
            updated_at=now,
            last_error="lease expired before its request went out: sent again",
        )
        .returning(Batch.id)
        .execution_options(synchronize_session=False)
    ).all()
    # The answer is lost as of the lease's end, the last moment its request can have gone out, not as of
    # this sweep: the webhook stream need only pass that moment (events after it may be few, near the end).
    session.execute(
        moving(BatchStatus.UNKNOWN, from_=[BatchStatus.SENDING])
        .where(lapsed)
        .values(
            leased_until=None,
            updated_at=Batch.leased_until,
            last_error="lease expired mid-request: the worker went silent mid-send",
        )
        .execution_options(synchronize_session=False)
    )
    # A request whose every recipient has webhook evidence was accepted, whatever became of its worker
    # (killed after the provider took it, before it read the 202): reconciled now, not a lease later. A
    # worker still alive records the same answer.
    queued = (
        select(Delivery.id)
        .where(
            Delivery.issue_id == Batch.issue_id,  # PostgreSQL: the issue's ledger partition alone
            Delivery.batch_id == Batch.id,
            Delivery.status == DeliveryStatus.QUEUED,
        )
        .exists()
    )
    session.execute(
        moving(BatchStatus.UNKNOWN, from_=[BatchStatus.SENDING])
        .where(Batch.request_started_at.is_not(None), ~queued)
        .values(
            leased_until=None,
            updated_at=now,
            last_error="webhook evidence covers the request: settled without its worker",
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    stale = now - timedelta(seconds=settings.batch_lease_seconds)
    grace_over = now - timedelta(seconds=settings.reconcile_grace_seconds)
    # A retrying batch waits out its backoff or rate-limit countdown in the broker: a lease's time. A
    # pending one waits for nothing but a worker, so two sweeps without one mean its task may be lost.
    # Stamped as queued again (by a compare-and-set: of two beats, one queues it).
    requeued = session.scalars(
        update(Batch)
        .where(
            Batch.issue_id.in_(sending_issues),
            Batch.status == BatchStatus.PENDING,
            Batch.updated_at < now - lost_after(settings),
        )
        .values(updated_at=now)
        .returning(Batch.id)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    send = session.scalars(
        select(Batch.id).where(
            Batch.issue_id.in_(sending_issues),
            Batch.status == BatchStatus.RETRYING,
            Batch.updated_at < stale,
        )
    )
    # An unknown batch whose every recipient has webhook evidence is settled now, not after its grace.
    reconcile = session.scalars(
        select(Batch.id).where(
            Batch.status == BatchStatus.UNKNOWN, or_(Batch.updated_at <= grace_over, ~queued)
        )
    )
    found = Sweep(send=[*never_sent, *requeued, *send], reconcile=list(reconcile))
    # An issue still `sending` with nothing open: whoever closed its last batch or ledger block died before
    # finishing it (for the others, finish_issue_if_done's first probe answers at once).
    for issue_id in session.scalars(sending_issues).all():
        if finish_issue_if_done(session, issue_id, now):
            session.commit()
    return found
