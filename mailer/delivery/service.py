"""Starting an issue's send and sending one batch: the logic behind the thin Celery tasks."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.db import utcnow
from mailer.delivery.ledger import cut_batches, snapshot_recipients
from mailer.delivery.message import OutgoingBatch, Recipient
from mailer.delivery.models import BATCH_OPEN, Batch, BatchStatus, Delivery, DeliveryStatus
from mailer.delivery.senders import Sender, SendError
from mailer.issues.models import Edition, Issue
from mailer.issues.service import transition
from mailer.issues.states import InvalidTransition, IssueStatus
from mailer.rendering.placeholders import PREFERENCES_URL, UNSUBSCRIBE_URL
from subscribers import tokens
from subscribers.models import Status, Subscriber

log = logging.getLogger(__name__)
LEASABLE = (BatchStatus.PENDING, BatchStatus.RETRYING)
CATEGORY = "digest"


def start_send(session: Session, issue: Issue, settings: Settings, now: datetime) -> list[int]:
    """Compare-and-set the issue to `sending`, write the ledger and the batches; returns batch ids.

    The caller commits, then enqueues one task per batch. Starting twice starts once: the second
    caller loses the compare-and-set and gets InvalidTransition.
    """
    resuming = issue.status == IssueStatus.PAUSED
    transition(session, issue, IssueStatus.SENDING, **({} if resuming else {"started_at": now}))
    if resuming:
        return open_batches(session, issue.id)
    count = snapshot_recipients(session, issue, now)
    batch_ids = cut_batches(session, issue, settings.batch_size)
    log.info("issue #%s: %d recipients in %d batches", issue.number, count, len(batch_ids))
    if not batch_ids:
        finish_issue_if_done(session, issue.id, now)
    return batch_ids


def open_batches(session: Session, issue_id: int) -> list[int]:
    return list(session.scalars(
        select(Batch.id).where(Batch.issue_id == issue_id, Batch.status.in_(list(BATCH_OPEN))).order_by(Batch.id)
    ))


@dataclass
class BatchOutcome:
    status: str
    retry_in: float | None = None  # seconds: the task should retry after this long


def _lease(session: Session, batch_id: int, now: datetime, settings: Settings) -> bool:
    """Take the batch: a pending or retrying one, or one whose worker went silent past its lease."""
    result = session.execute(
        update(Batch)
        .where(
            Batch.id == batch_id,
            or_(Batch.status.in_(LEASABLE), and_(Batch.status == BatchStatus.SENDING, Batch.leased_until < now)),
        )
        .values(
            status=BatchStatus.SENDING, attempts=Batch.attempts + 1, updated_at=now,
            leased_until=now + timedelta(seconds=settings.batch_lease_seconds),
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()  # the lease is on record before any request goes out
    return result.rowcount == 1


def _recipients(session: Session, batch: Batch, settings: Settings) -> tuple[list[Recipient], list[int]]:
    """The batch's queued deliveries whose subscriber is still active, and those no longer to be mailed."""
    rows = session.execute(
        select(Delivery.id, Delivery.email, Subscriber.id, Subscriber.status)
        .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.batch_id == batch.id, Delivery.status == DeliveryStatus.QUEUED)
        .order_by(Delivery.id)
    ).all()
    recipients, dropped = [], []
    for delivery_id, email, subscriber_id, status in rows:
        if status != Status.ACTIVE:  # unsubscribed, suppressed or erased since the snapshot
            dropped.append(delivery_id)
            continue
        unsubscribe = tokens.link(tokens.UNSUBSCRIBE, subscriber_id, settings)
        recipients.append(Recipient(
            delivery_id=delivery_id,
            email=email,
            substitutions={
                UNSUBSCRIBE_URL: unsubscribe,
                PREFERENCES_URL: tokens.link(tokens.PREFERENCES, subscriber_id, settings),
            },
            headers={"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
            custom_args={
                "issue_id": str(batch.issue_id), "edition_id": str(batch.edition_id),
                "batch_id": str(batch.id), "delivery_id": str(delivery_id),
            },
        ))
    return recipients, dropped


def _set_deliveries(session: Session, batch_id: int, ids: list[int] | None, status: str, now: datetime,
                    error: str | None = None) -> None:
    query = update(Delivery).where(Delivery.batch_id == batch_id, Delivery.status == DeliveryStatus.QUEUED)
    if ids is not None:
        query = query.where(Delivery.id.in_(ids))
    session.execute(query.values(status=status, updated_at=now, error=error).execution_options(synchronize_session=False))


def backoff(attempt: int, base: float = 2.0, cap: float = 600.0) -> float:
    """Exponential with full jitter, so retrying workers do not stampede together."""
    return random.uniform(0, min(cap, base * 2 ** attempt))


def send_batch(session: Session, batch_id: int, *, sender: Sender, settings: Settings,
               now: datetime | None = None) -> BatchOutcome:
    """Send one batch at most once per lease. Safe to run twice: a batch already taken is skipped."""
    now = now or utcnow()
    if not _lease(session, batch_id, now, settings):
        return BatchOutcome("skipped")
    # populate_existing: the lease was written by a bulk UPDATE the identity map has not seen
    batch = session.get(Batch, batch_id, populate_existing=True)
    issue = session.get(Issue, batch.issue_id, populate_existing=True)
    if issue.status != IssueStatus.SENDING:
        # Paused: hand the batch back for resume. Cancelled: close it and its deliveries.
        cancelled = issue.status == IssueStatus.CANCELLED
        batch.status = BatchStatus.CANCELLED if cancelled else BatchStatus.PENDING
        batch.leased_until = None
        if cancelled:
            _set_deliveries(session, batch.id, None, DeliveryStatus.CANCELLED, now)
        session.commit()
        return BatchOutcome(batch.status)
    edition = session.get(Edition, batch.edition_id)
    recipients, dropped = _recipients(session, batch, settings)
    if dropped:
        _set_deliveries(session, batch.id, dropped, DeliveryStatus.CANCELLED, now)
    try:
        result = sender.send(OutgoingBatch(
            batch_id=batch.id, issue_number=issue.number, lang=edition.lang,
            from_email=settings.from_email, from_name=settings.from_name(edition.lang), reply_to=settings.reply_to,
            subject=edition.subject, html=edition.html, text=edition.text, recipients=recipients,
            categories=(CATEGORY, f"issue-{issue.number}", f"lang-{edition.lang}"),
        )) if recipients else None
    except SendError as exc:
        batch.last_error = str(exc)
        if exc.transient and batch.attempts <= settings.send_max_retries:
            batch.status, batch.leased_until = BatchStatus.RETRYING, None
            session.commit()
            retry_in = exc.retry_after if exc.retry_after is not None else backoff(batch.attempts)
            log.warning("batch %s: %s; retrying in %.0fs", batch.id, exc, retry_in)
            return BatchOutcome(batch.status, retry_in=retry_in)
        batch.status = BatchStatus.FAILED
        _set_deliveries(session, batch.id, None, DeliveryStatus.FAILED, now, error=str(exc))
        log.error("batch %s failed: %s", batch.id, exc)
    else:
        if result is not None:
            if result.invalid:
                _set_deliveries(session, batch.id, result.invalid, DeliveryStatus.INVALID, now)
            _set_deliveries(session, batch.id, None, DeliveryStatus.SENT, now)
            batch.message_id = result.message_id
        batch.status, batch.sent_at = BatchStatus.ACCEPTED, now
    batch.leased_until = None
    session.commit()
    finish_issue_if_done(session, issue.id, now)
    session.commit()
    return BatchOutcome(batch.status)


def finish_issue_if_done(session: Session, issue_id: int, now: datetime) -> bool:
    """When no batch is open any more: `sent`, or `failed` if every batch failed."""
    counts = dict(session.execute(
        select(Batch.status, func.count()).where(Batch.issue_id == issue_id).group_by(Batch.status)
    ).all())
    if any(counts.get(s, 0) for s in BATCH_OPEN):
        return False
    issue = session.get(Issue, issue_id, populate_existing=True)
    if issue.status != IssueStatus.SENDING:
        return False
    failed = counts.get(BatchStatus.FAILED, 0)
    all_failed = failed and failed == sum(counts.values())
    try:
        transition(
            session, issue, IssueStatus.FAILED if all_failed else IssueStatus.SENT, finished_at=now,
            status_reason=f"{failed} batch(es) failed" if failed else None,
        )
    except InvalidTransition:  # another worker finished it first
        return False
    return True


def requeue_stale(session: Session, now: datetime, settings: Settings) -> list[int]:
    """Batches of sending issues whose lease ran out, or that waited a whole lease without a worker."""
    stale = now - timedelta(seconds=settings.batch_lease_seconds)
    return list(session.scalars(
        select(Batch.id).join(Issue, Issue.id == Batch.issue_id).where(
            Issue.status == IssueStatus.SENDING,
            or_(
                and_(Batch.status == BatchStatus.SENDING, Batch.leased_until < now),
                and_(Batch.status.in_(LEASABLE), Batch.updated_at < stale),
            ),
        )
    ))
