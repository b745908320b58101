"""Sending one batch: lease it, read its recipients, sign their links, one request, record the answer.

Every move is written before the action it announces, so a worker that dies leaves a record that the
next one can act on without losing or repeating a recipient.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.db import connection_lost, relaxed_commit, serial_plans, utcnow
from mailer.delivery import counters
from mailer.delivery.content import Content, Sending, content, outgoing
from mailer.delivery.lifecycle import finish_issue_if_done, pause_issue
from mailer.delivery.models import Batch, BatchStatus, Delivery, DeliveryStatus
from mailer.delivery.ratelimit import limiter
from mailer.delivery.states import BATCH_OPEN, LEASABLE, move, moving
from mailer.issues import reasons
from mailer.issues.models import Edition, Issue
from mailer.issues.states import InvalidTransition, IssueStatus
from mailer.kv import Store
from mailer.mail.message import Recipient
from mailer.mail.senders import Sender, SendError, backoff
from mailer.rendering.placeholders import Tags
from subscribers import tokens
from subscribers.models import Status, Subscriber

log = logging.getLogger(__name__)
# every recipient's links, one token (tokens.LINKS) for all, in the order of placeholders.Tags
LINK_PAGES = (tokens.UNSUBSCRIBE, tokens.PREFERENCES, tokens.EDITION)
MAX_INLINE_WAIT = (
    2.0  # a rate-limit wait longer than this hands the batch back instead of holding a worker
)


@dataclass
class BatchOutcome:
    status: str
    retry_in: float | None = None  # send again after this many seconds
    reconcile_in: float | None = None  # look for webhook evidence after this many seconds
    spawned: list[int] = field(default_factory=list)  # new batches split off (413): enqueue them


class Interrupted(Exception):
    """The database stopped answering while a run held batch `batch_id`'s lease until `leased_until`
    (None: before it held one). The cause is the database's error; the lease is settled at once, or by
    the retry (lifecycle.hand_back)."""

    def __init__(self, batch_id: int, leased_until: datetime | None):
        super().__init__(f"batch {batch_id}: the database stopped answering")
        self.batch_id, self.leased_until = batch_id, leased_until


def _lease(session: Session, batch_id: int, now: datetime, settings: Settings) -> Batch | None:
    """Take a pending or retrying batch: the batch, leased, or None when it is not to be taken. Not
    committed here: the lease goes on record with the request mark, in one commit before any request
    goes out. Until then its row lock turns away anyone else who would take it."""
    return session.scalars(
        moving(BatchStatus.SENDING, from_=LEASABLE)
        .where(Batch.id == batch_id)
        .values(
            attempts=Batch.attempts + 1,
            updated_at=now,
            request_started_at=None,
            leased_until=now + timedelta(seconds=settings.batch_lease_seconds),
        )
        .returning(Batch),  # the batch as leased, without reading it again
        execution_options={"populate_existing": True, "synchronize_session": False},
    ).one_or_none()


def _recipients(
    session: Session, batch: Batch, settings: Settings, links_at: Tags
) -> tuple[list[Recipient], list[int]]:
    """The batch's queued deliveries whose subscriber is still active, and those no longer to be mailed;
    each one's links go where the edition's own tags (`links_at`) stand. Clears the address on deliveries whose subscriber has been erased."""
    # Each reader's status looked up by id. Joined, PostgreSQL read every subscriber for each batch of a
    # list under some 400,000 (into a hash, or along the whole key to merge): 15-30 ms a batch at
    # 100,000, against 1.4 ms. No row (an erased reader): no status.
    status_now = select(Subscriber.status).where(Subscriber.id == Delivery.subscriber_id)
    rows = session.execute(
        select(Delivery.id, Delivery.email, Delivery.subscriber_id, status_now.scalar_subquery())
        .where(
            Delivery.issue_id == batch.issue_id,  # PostgreSQL: the issue's ledger partition alone
            Delivery.batch_id == batch.id,
            Delivery.status == DeliveryStatus.QUEUED,
        )
        .order_by(Delivery.id)
    ).all()
    recipients: list[Recipient] = []
    dropped: list[int] = []
    links = tokens.shared_link_maker(LINK_PAGES, settings)
    unsubscribe_at, preferences_at, edition_at = links_at
    erased: list[int] = []
    for delivery_id, email, subscriber_id, status in rows:
        if status != Status.ACTIVE:  # unsubscribed, suppressed or erased since the snapshot
            (dropped if status is not None else erased).append(delivery_id)
            continue
        assert email is not None  # only an erased subscriber's delivery has lost its address
        unsubscribe, preferences, switch = links(subscriber_id)
        recipients.append(
            Recipient(
                delivery_id=delivery_id,
                email=email,
                substitutions={
                    unsubscribe_at: unsubscribe,
                    preferences_at: preferences,
                    edition_at: switch,
                },
                headers={"List-Unsubscribe": f"<{unsubscribe}>"},
                custom_args={"delivery_id": str(delivery_id)},
            )
        )
    if erased:
        # Erased while the ledger was being written (no foreign key holds the row): their copy of the
        # address goes too, as mailer.events.privacy.erase would have cleared it.
        session.execute(
            update(Delivery)
            .where(Delivery.issue_id == batch.issue_id, Delivery.id.in_(erased))
            .values(email=None, subscriber_id=None)
            .execution_options(synchronize_session=False)
        )
    return recipients, dropped + erased


def _set_deliveries(
    session: Session,
    batch: Batch,
    ids: list[int] | None,
    status: str,
    now: datetime,
    error: str | None = None,
) -> int:
    """Move the batch's still-queued deliveries (or those of `ids`) on; webhook evidence is never overwritten.
    Returns how many moved."""
    query = update(Delivery).where(
        Delivery.issue_id == batch.issue_id,  # PostgreSQL: the issue's ledger partition alone
        Delivery.batch_id == batch.id,
        Delivery.status == DeliveryStatus.QUEUED,
    )
    if ids is not None:
        query = query.where(Delivery.id.in_(ids))
    return session.execute(  # type: ignore[attr-defined]  # execute() is typed Result; DML gives a CursorResult
        query.values(status=status, updated_at=now, error=error).execution_options(
            synchronize_session=False
        )
    ).rowcount


def _split(session: Session, batch: Batch, recipients: list[Recipient], now: datetime) -> int:
    """Move the second half of the batch's recipients to a new pending batch (after a 413)."""
    half = [r.delivery_id for r in recipients[len(recipients) // 2 :]]
    new_id = session.execute(
        insert(Batch)
        .values(
            issue_id=batch.issue_id,
            edition_id=batch.edition_id,
            size=len(half),
            status=BatchStatus.PENDING,
            created_at=now,
            updated_at=now,
        )
        .returning(Batch.id)
    ).scalar_one()
    session.execute(
        update(Delivery)
        .where(Delivery.issue_id == batch.issue_id, Delivery.id.in_(half))
        .values(batch_id=new_id)
        .execution_options(synchronize_session=False)
    )
    batch.size -= len(half)
    return new_id


def send_batch(
    session: Session,
    batch_id: int,
    *,
    sender: Sender,
    settings: Settings,
    store: Store,
    now: datetime | None = None,
) -> BatchOutcome:
    """Send one batch at most once per lease (`store` holds the send rate and the counters, shared
    by every worker). Safe to run twice: a batch already taken is skipped."""
    now = now or utcnow()
    # for the whole transaction: PostgreSQL would plan parallel workers for the read of 1,000 ledger rows
    serial_plans(session)
    batch = _lease(session, batch_id, now, settings)
    if batch is None:
        session.rollback()
        return BatchOutcome("skipped")
    held = batch.leased_until
    try:
        return _send_held(session, batch, sender, settings, store, now)
    except DBAPIError as exc:
        if not connection_lost(exc):
            raise
        raise Interrupted(batch_id, held) from exc


def _send_held(
    session: Session, batch: Batch, sender: Sender, settings: Settings, store: Store, now: datetime
) -> BatchOutcome:
    issue = Sending._make(
        session.execute(
            select(Issue.id, Issue.number, Issue.status, Edition.started_at)
            .join(Edition, Edition.issue_id == Issue.id)
            .where(Edition.id == batch.edition_id)
        ).one()
    )
    started_at = issue.started_at
    if issue.status != IssueStatus.SENDING:
        # Paused: hand the batch back for resume. Cancelled: close it and its deliveries.
        cancelled = issue.status == IssueStatus.CANCELLED
        move(batch, BatchStatus.CANCELLED if cancelled else BatchStatus.PENDING)
        batch.leased_until = None
        if cancelled:
            _set_deliveries(session, batch, None, DeliveryStatus.CANCELLED, now)
        session.commit()
        return BatchOutcome(batch.status)
    assert started_at is not None  # a batch is written only once its edition has started
    edition = content(session, batch.edition_id, started_at)
    # The last moment a request may start and still end (answered or timed out) within the lease: the
    # sweep takes a batch whose lease ran out for lost as of the lease's end.
    last_start = time.monotonic() + settings.batch_lease_seconds - settings.sendgrid_timeout_seconds
    outcome = _send_leased(session, batch, issue, edition, sender, settings, store, now, last_start)
    batch.leased_until = None
    closed = outcome.status in (BatchStatus.ACCEPTED, BatchStatus.FAILED)
    last = closed and not _others_waiting(session, batch)
    # Lost in a crash of the database, this commit leaves the batch as a worker that died before it
    # would: leased with its request marked, settled from webhook evidence (events.reconcile).
    relaxed_commit(session)
    session.commit()
    if last:
        finish_issue_if_done(session, issue.id, now)
        session.commit()
    return outcome


def _others_waiting(session: Session, batch: Batch) -> bool:
    """Whether another batch of the issue waits to be sent (pending, retrying or unknown): its own run
    finishes the issue, so this one need not look once it has committed. Asked before that commit, with
    this batch's row already updated and locked: a batch being sent by another worker is no proof, as
    that one may be closing at this moment; then the look after the commit (which waits for such a
    row's lock) finishes the issue."""
    session.flush()
    waiting = BATCH_OPEN - {BatchStatus.SENDING}
    return (
        session.scalar(
            select(Batch.id)
            .where(
                Batch.issue_id == batch.issue_id, Batch.status.in_(waiting), Batch.id != batch.id
            )
            .limit(1)
        )
        is not None
    )


def _send_leased(
    session: Session,
    batch: Batch,
    issue: Sending,
    edition: Content,
    sender: Sender,
    settings: Settings,
    store: Store,
    now: datetime,
    last_start: float,
) -> BatchOutcome:
    spawned: list[int] = []
    while True:  # each pass sends fewer recipients (invalid ones dropped, or half split off)
        recipients, dropped = _recipients(session, batch, settings, edition.links_at)
        if dropped:
            batch.suppressed += _set_deliveries(
                session, batch, dropped, DeliveryStatus.SUPPRESSED, now
            )
        if not recipients:
            move(batch, BatchStatus.ACCEPTED)
            batch.sent_at = now
            return BatchOutcome(batch.status, spawned=spawned)
        wait = limiter(settings, store).reserve(len(recipients))
        if wait > MAX_INLINE_WAIT:
            # handed back unsent: a wait for the rate limit is not a failed attempt
            move(batch, BatchStatus.RETRYING)
            batch.attempts -= 1
            return BatchOutcome(batch.status, retry_in=wait, spawned=spawned)
        if wait > 0:  # sleep(0) would still hand the core to another process
            time.sleep(wait)
        started = time.monotonic()
        if started > last_start:
            # Too late in the lease (after refusals and splits, each a request): handed back unsent. Nothing
            # was accepted under this lease, only refusals loop back here.
            move(batch, BatchStatus.RETRYING)
            return BatchOutcome(batch.status, retry_in=0.0, spawned=spawned)
        # On record before the request: a lease that lapses without this mark sent nothing (lifecycle.sweep)
        batch.request_started_at = utcnow()
        session.commit()
        try:
            result = sender.send(outgoing(batch, issue, edition, recipients, settings))
        except SendError as exc:
            counters.record_response(store, exc.status)
            batch.last_error = str(exc)
            if exc.kind == SendError.INVALID and exc.invalid:
                refused = [recipients[i].delivery_id for i in exc.invalid if i < len(recipients)]
                batch.invalid += _set_deliveries(
                    session, batch, refused, DeliveryStatus.INVALID, now, error=str(exc)
                )
                session.commit()
                continue
            split = exc.kind == SendError.TOO_LARGE or _refused_someone(session, batch, exc)
            if split and len(recipients) > 1:
                spawned.append(_split(session, batch, recipients, now))
                session.commit()
                continue
            return _failed_attempt(session, batch, issue, exc, settings, now, spawned)
        counters.record_batch(store, result.status, time.monotonic() - started)
        if result.invalid:
            batch.invalid += _set_deliveries(
                session, batch, result.invalid, DeliveryStatus.INVALID, now
            )
        move(batch, BatchStatus.ACCEPTED)
        batch.message_id, batch.sent_at = result.message_id, now
        return BatchOutcome(batch.status, spawned=spawned)


def _refused_someone(session: Session, batch: Batch, exc: SendError) -> bool:
    """A 400 naming no recipient, for an edition the provider has accepted before: the content is
    fine, so a recipient is at fault. Halving the batch until the refused ones stand alone fails only
    them. (Before any acceptance the content itself may be refused: every batch would split to single
    recipients, so the batch fails whole, to be resent once the edition is known good.)"""
    if exc.kind != SendError.PERMANENT or exc.status != "400":
        return False
    accepted = select(Batch.id).where(
        Batch.edition_id == batch.edition_id, Batch.status == BatchStatus.ACCEPTED
    )
    return session.scalar(accepted.limit(1)) is not None


def _failed_attempt(
    session: Session,
    batch: Batch,
    issue: Sending,
    exc: SendError,
    settings: Settings,
    now: datetime,
    spawned: list[int],
) -> BatchOutcome:
    if exc.kind == SendError.AUTH:
        move(batch, BatchStatus.PENDING)  # nothing was sent; it goes out on resume
        reason = reasons.credentials_refused(issue.number, str(exc))
        try:
            pause_issue(session, session.get_one(Issue, issue.id, populate_existing=True), reason)
            log.error(
                "issue #%s paused: %s",
                issue.number,
                reasons.english(reason),
                extra={"issue": issue.number, "batch": batch.id},
            )
        except InvalidTransition:
            pass  # another worker paused it first
        return BatchOutcome(batch.status, spawned=spawned)
    if exc.kind == SendError.UNKNOWN:
        # lost as of now, when the request ended (it may have taken its whole timeout), not the task's start:
        # reconciliation waits for the webhook stream to pass this moment
        move(batch, BatchStatus.UNKNOWN)
        batch.updated_at = max(now, utcnow())
        log.warning(
            "batch %s: %s; reconciling in %ss",
            batch.id,
            exc,
            settings.reconcile_grace_seconds,
            extra={"issue": issue.number, "batch": batch.id},
        )
        return BatchOutcome(
            batch.status, reconcile_in=settings.reconcile_grace_seconds, spawned=spawned
        )
    if exc.transient and batch.attempts <= settings.send_max_retries:
        move(batch, BatchStatus.RETRYING)
        retry_in = exc.retry_after if exc.retry_after is not None else backoff(batch.attempts)
        log.warning(
            "batch %s: %s; retrying in %.1fs",
            batch.id,
            exc,
            retry_in,
            extra={"issue": issue.number, "batch": batch.id},
        )
        return BatchOutcome(batch.status, retry_in=retry_in, spawned=spawned)
    move(batch, BatchStatus.FAILED)
    _set_deliveries(session, batch, None, DeliveryStatus.FAILED, now, error=str(exc))
    log.error(
        "batch %s failed after %d attempt(s): %s",
        batch.id,
        batch.attempts,
        exc,
        extra={"issue": issue.number, "batch": batch.id},
    )
    return BatchOutcome(batch.status, spawned=spawned)
