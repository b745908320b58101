"""Starting an issue's send and sending one batch: the logic behind the thin Celery tasks.

A batch moves pending -> sending (leased) -> accepted | retrying | unknown | failed | cancelled.
Every move is written before the action it announces, so a worker that dies leaves a record
that the next one can act on without losing or repeating a recipient.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.db import utcnow
from mailer.delivery.ledger import write_block
from mailer.delivery.message import OutgoingBatch, Recipient
from mailer.delivery.models import BATCH_OPEN, Batch, BatchStatus, Delivery, DeliveryStatus
from mailer.delivery.ratelimit import limiter
from mailer.delivery.senders import Sender, SendError
from mailer.events.models import WebhookEvent
from mailer.issues.models import Edition, Issue
from mailer.issues.service import IssueError, transition
from mailer.issues.states import InvalidTransition, IssueStatus
from mailer.ops import counters
from mailer.rendering.placeholders import PREFERENCES_URL, UNSUBSCRIBE_URL
from subscribers import tokens
from subscribers.models import Status, Subscriber

log = logging.getLogger(__name__)
LEASABLE = (BatchStatus.PENDING, BatchStatus.RETRYING)
CATEGORY = "digest"
LINKS = (tokens.UNSUBSCRIBE, tokens.PREFERENCES)  # signed for every recipient
MAX_INLINE_WAIT = 2.0  # a rate-limit wait longer than this hands the batch back instead of holding a worker
# An edition's ledger is written this many batches at a time: a small first block so that workers start at
# once, then larger ones, each committed and sent while the next is written.
LEDGER_FIRST_BLOCK = 10
LEDGER_BLOCK = 100


def start_send(session: Session, issue: Issue, settings: Settings, now: datetime) -> list[int]:
    """Compare-and-set the issue to `sending`, write the ledger and the batches of every edition not
    started yet; returns batch ids.

    The caller commits, then enqueues one task per batch. Starting twice starts once: the second
    caller loses the compare-and-set and gets InvalidTransition. A paused issue resumes here. An issue
    already sending because some editions went out on their own schedule sends the rest now.
    """
    if issue.status == IssueStatus.PAUSED:
        return resume_send(session, issue)
    return start_editions(session, issue, begin_send(session, issue, now), settings, now)


def resume_send(session: Session, issue: Issue) -> list[int]:
    """A paused issue goes on: its batches that were handed back are sent again (returns their ids)."""
    transition(session, issue, IssueStatus.SENDING, status_reason=None)
    return open_batches(session, issue.id)


def begin_send(session: Session, issue: Issue, now: datetime) -> list[Edition]:
    """The first half of a send: the issue becomes `sending` and every edition not started yet is due
    now. Returns those editions. Committed on its own, it lets each edition's ledger be written and
    sent in turn; an edition left unstarted by a crash is due, so beat's tick starts it."""
    unstarted = [e for e in issue.editions if e.started_at is None]
    # Already sending with editions left over from a per-edition schedule: each is claimed later.
    if not (issue.status == IssueStatus.SENDING and unstarted):
        _check_rendered(issue)
        transition(session, issue, IssueStatus.SENDING, status_reason=None, started_at=now)
    for edition in unstarted:
        edition.send_at = now
    session.flush()
    return unstarted


def _check_rendered(issue: Issue) -> None:
    """Sending never renders: an edition without stored HTML is refused before anything is written."""
    missing = [e.lang for e in issue.editions if not (e.html and e.text and e.subject)]
    if missing:
        raise IssueError(f"issue #{issue.number}: edition(s) {', '.join(missing)} not rendered; "
                         f"run `mailer issue preview {issue.number} --lang {missing[0]}` and fix what it reports")


def start_editions(session: Session, issue: Issue, editions: list[Edition], settings: Settings,
                   now: datetime, after_block: Callable[[list[int]], None] | None = None) -> list[int]:
    """Snapshot and batch each edition once: a compare-and-set on its started_at picks the one caller
    (beat tick, `issue send`, a second beat after a restart) that writes its ledger. Returns batch ids.

    Without `after_block` every ledger is written in the caller's transaction. With it, each block is
    committed here and its batch ids handed to after_block (to enqueue) before the next is written.
    """
    batch_ids: list[int] = []
    for edition in editions:
        claimed = session.execute(
            update(Edition).where(Edition.id == edition.id, Edition.started_at.is_(None))
            .values(started_at=now, ledger_heartbeat=utcnow()).execution_options(synchronize_session=False)
        ).rowcount == 1
        if claimed:
            batch_ids += write_ledger(session, issue, edition, settings, now, None, after_block)
    for edition in editions:
        session.expire(edition)  # written by bulk UPDATEs the identity map has not seen
    log.info("issue #%s: %d batches", issue.number, len(batch_ids), extra={"issue": issue.number})
    return batch_ids


def write_ledger(session: Session, issue: Issue, edition: Edition, settings: Settings, now: datetime,
                 through: int | None, after_block: Callable[[list[int]], None] | None) -> list[int]:
    """An edition's ledger, block after block from subscriber id `through` on, its progress recorded with
    each block; the last one marks it done. Returns the batch ids."""
    batch_ids: list[int] = []
    blocks = LEDGER_FIRST_BLOCK if through is None else LEDGER_BLOCK
    while True:
        now = max(now, utcnow())  # each block's own time: a large ledger takes a while to write
        # Compare-and-set first: a writer that went silent for a lease and was taken over stops here. The
        # row stays locked until this block commits, so no one takes over halfway through it.
        still_ours = session.execute(
            update(Edition).where(Edition.id == edition.id, Edition.ledger_done_at.is_(None),
                                  Edition.ledger_through.is_not_distinct_from(through))
            .values(ledger_heartbeat=utcnow()).execution_options(synchronize_session=False)
        ).rowcount == 1
        if not still_ours:
            session.rollback()
            log.error("issue #%s: the %s ledger was taken over by another writer; this one stops",
                      issue.number, edition.lang, extra={"issue": issue.number})
            return batch_ids
        if after_block and batch_ids and _issue_status(session, issue.id) == IssueStatus.CANCELLED:
            block_last, block_ids = True, []  # cancelled while being written: the rest is never written
        else:
            block = write_block(session, issue, edition, now, settings.batch_size, through, blocks)
            through, block_last, block_ids = block.through, block.last, block.batch_ids
        session.execute(update(Edition).where(Edition.id == edition.id).values(
            ledger_through=through, ledger_done_at=now if block_last else None,
        ).execution_options(synchronize_session=False))
        batch_ids += block_ids
        if after_block:
            session.commit()
            after_block(block_ids)
        if block_last:
            break
        blocks = LEDGER_BLOCK
    # The last block may be empty; then no batch would finish the issue (a probe: cheap while any is open).
    if finish_issue_if_done(session, issue.id, now) and after_block:
        session.commit()
    return batch_ids


def _issue_status(session: Session, issue_id: int) -> str:
    return session.scalar(select(Issue.status).where(Issue.id == issue_id))


def _ledger_stalled(now: datetime, settings: Settings):
    """A ledger left half-written: its writer has not been heard of for a lease."""
    stale = now - timedelta(seconds=settings.batch_lease_seconds)
    return Edition.started_at.is_not(None) & Edition.ledger_done_at.is_(None) & (Edition.ledger_heartbeat < stale)


def stalled_ledgers(session: Session, now: datetime, settings: Settings) -> list[tuple[int, int]]:
    """(issue id, edition id) of the stalled ledgers of issues still sending (or paused)."""
    return list(session.execute(
        select(Edition.issue_id, Edition.id).join(Issue, Issue.id == Edition.issue_id)
        .where(_ledger_stalled(now, settings), Issue.status.in_([IssueStatus.SENDING, IssueStatus.PAUSED]))
        .order_by(Edition.id)
    ).all())


def resume_ledger(session: Session, edition_id: int, now: datetime, settings: Settings,
                  after_block: Callable[[list[int]], None] | None = None) -> list[int]:
    """Take over a stalled ledger (compare-and-set on its heartbeat, so one taker) and write the rest."""
    taken = session.execute(
        update(Edition).where(Edition.id == edition_id, _ledger_stalled(now, settings))
        .values(ledger_heartbeat=utcnow()).execution_options(synchronize_session=False)
    ).rowcount == 1
    if not taken:
        return []
    edition = session.get(Edition, edition_id, populate_existing=True)
    log.warning("issue #%s: the %s ledger's writer went silent after subscriber %s; writing the rest",
                edition.issue.number, edition.lang, edition.ledger_through, extra={"issue": edition.issue.number})
    return write_ledger(session, edition.issue, edition, settings, now, edition.ledger_through, after_block)


def due_editions(session: Session, now: datetime) -> dict[int, list[int]]:
    """{issue id: [edition ids]} whose send time has come and that have not started (paused issues wait)."""
    rows = session.execute(
        select(Edition.issue_id, Edition.id).join(Issue, Issue.id == Edition.issue_id)
        .where(Edition.send_at <= now, Edition.started_at.is_(None),
               Issue.status.in_([IssueStatus.SCHEDULED, IssueStatus.SENDING]))
        .order_by(Edition.issue_id, Edition.id)
    )
    due: dict[int, list[int]] = {}
    for issue_id, edition_id in rows:
        due.setdefault(issue_id, []).append(edition_id)
    return due


def start_due(session: Session, settings: Settings, now: datetime,
              after_block: Callable[[list[int]], None] | None = None) -> list[int]:
    """The beat tick: start every edition that is due, and finish every ledger left half-written. Run twice
    (two beats, a restart) it starts each once."""
    batch_ids: list[int] = []
    for issue_id, edition_ids in due_editions(session, now).items():
        issue = session.get(Issue, issue_id, populate_existing=True)
        if issue.status == IssueStatus.SCHEDULED:
            try:
                transition(session, issue, IssueStatus.SENDING, status_reason=None, started_at=now)
            except InvalidTransition:  # another tick, or an editor, moved it first
                if issue.status != IssueStatus.SENDING:
                    continue
        editions = [e for e in issue.editions if e.id in edition_ids]
        batch_ids += start_editions(session, issue, editions, settings, now, after_block)
        log.info("issue #%s: due edition(s) %s started", issue.number, ", ".join(e.lang for e in editions),
                 extra={"issue": issue.number})
    for _, edition_id in stalled_ledgers(session, now, settings):
        batch_ids += resume_ledger(session, edition_id, now, settings, after_block)
    return batch_ids


def open_batches(session: Session, issue_id: int) -> list[int]:
    """Batches waiting for a worker (pending or retrying)."""
    return list(session.scalars(
        select(Batch.id).where(Batch.issue_id == issue_id, Batch.status.in_(LEASABLE)).order_by(Batch.id)
    ))


def pause_issue(session: Session, issue: Issue, reason: str | None = None) -> None:
    """Batches in flight finish their request; the others are handed back when a worker picks them up."""
    transition(session, issue, IssueStatus.PAUSED, status_reason=reason)


def cancel_issue(session: Session, issue: Issue, now: datetime) -> None:
    """Stop for good: every batch not in flight is closed now, with its waiting deliveries."""
    transition(session, issue, IssueStatus.CANCELLED, finished_at=now, status_reason="cancelled by an editor")
    closing = [BatchStatus.PENDING, BatchStatus.RETRYING, BatchStatus.UNKNOWN]
    batch_ids = select(Batch.id).where(Batch.issue_id == issue.id, Batch.status.in_(closing))
    session.execute(
        update(Delivery).where(Delivery.batch_id.in_(batch_ids), Delivery.status == DeliveryStatus.QUEUED)
        .values(status=DeliveryStatus.CANCELLED, updated_at=now).execution_options(synchronize_session=False)
    )
    session.execute(
        update(Batch).where(Batch.issue_id == issue.id, Batch.status.in_(closing))
        .values(status=BatchStatus.CANCELLED, leased_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )


@dataclass
class BatchOutcome:
    status: str
    retry_in: float | None = None  # send again after this many seconds
    reconcile_in: float | None = None  # look for webhook evidence after this many seconds
    spawned: list[int] = field(default_factory=list)  # new batches split off (413): enqueue them


def _lease(session: Session, batch_id: int, now: datetime, settings: Settings) -> Batch | None:
    """Take a pending or retrying batch: the batch, leased, or None when it is not to be taken. The lease
    is on record before any request goes out."""
    batch = session.scalars(
        update(Batch)
        .where(Batch.id == batch_id, Batch.status.in_(LEASABLE))
        .values(
            status=BatchStatus.SENDING, attempts=Batch.attempts + 1, updated_at=now,
            leased_until=now + timedelta(seconds=settings.batch_lease_seconds),
        )
        .returning(Batch),  # the batch as leased, without reading it again
        execution_options={"populate_existing": True, "synchronize_session": False},
    ).one_or_none()
    session.commit()
    return batch


def _recipients(session: Session, batch: Batch, settings: Settings) -> tuple[list[Recipient], list[int]]:
    """The batch's queued deliveries whose subscriber is still active, and those no longer to be mailed.
    Clears the address on deliveries whose subscriber has been erased."""
    rows = session.execute(
        select(Delivery.id, Delivery.email, Subscriber.id, Subscriber.status)
        .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.batch_id == batch.id, Delivery.status == DeliveryStatus.QUEUED)
        .order_by(Delivery.id)
    ).all()
    recipients, dropped = [], []
    links = tokens.link_maker(LINKS, settings)
    erased = []
    for delivery_id, email, subscriber_id, status in rows:
        if status != Status.ACTIVE:  # unsubscribed, suppressed or erased since the snapshot
            (dropped if status is not None else erased).append(delivery_id)
            continue
        unsubscribe, preferences = links(subscriber_id)
        recipients.append(Recipient(
            delivery_id=delivery_id,
            email=email,
            substitutions={UNSUBSCRIBE_URL: unsubscribe, PREFERENCES_URL: preferences},
            headers={"List-Unsubscribe": f"<{unsubscribe}>"},
            custom_args={"delivery_id": str(delivery_id)},
        ))
    if erased:
        # Erased while the ledger was being written (no foreign key holds the row): their copy of the
        # address goes too, as mailer.privacy.erase would have cleared it.
        session.execute(update(Delivery).where(Delivery.id.in_(erased)).values(email=None, subscriber_id=None)
                        .execution_options(synchronize_session=False))
    return recipients, dropped + erased


def _set_deliveries(session: Session, batch_id: int, ids: list[int] | None, status: str, now: datetime,
                    error: str | None = None) -> None:
    """Move the batch's still-queued deliveries (or those of `ids`) on; webhook evidence is never overwritten."""
    query = update(Delivery).where(Delivery.batch_id == batch_id, Delivery.status == DeliveryStatus.QUEUED)
    if ids is not None:
        query = query.where(Delivery.id.in_(ids))
    session.execute(query.values(status=status, updated_at=now, error=error).execution_options(synchronize_session=False))


def backoff(attempt: int, base: float = 2.0, cap: float = 600.0) -> float:
    """Exponential with full jitter, so retrying workers do not stampede together."""
    return random.uniform(0, min(cap, base * 2 ** attempt))


def _split(session: Session, batch: Batch, recipients: list[Recipient], now: datetime) -> int:
    """Move the second half of the batch's recipients to a new pending batch (after a 413)."""
    half = [r.delivery_id for r in recipients[len(recipients) // 2:]]
    new_id = session.execute(insert(Batch).values(
        issue_id=batch.issue_id, edition_id=batch.edition_id, size=len(half), status=BatchStatus.PENDING,
        created_at=now, updated_at=now,
    ).returning(Batch.id)).scalar_one()
    session.execute(update(Delivery).where(Delivery.id.in_(half)).values(batch_id=new_id)
                    .execution_options(synchronize_session=False))
    batch.size -= len(half)
    return new_id


def _outgoing(batch: Batch, issue: Issue, edition: Edition, recipients: list[Recipient],
              settings: Settings) -> OutgoingBatch:
    return OutgoingBatch(
        batch_id=batch.id, issue_number=issue.number, lang=edition.lang,
        from_email=settings.from_email, from_name=settings.from_name(edition.lang), reply_to=settings.reply_to,
        subject=edition.subject, html=edition.html, text=edition.text, recipients=recipients,
        categories=(CATEGORY, f"issue-{issue.number}", f"lang-{edition.lang}"),
        # RFC 8058: the one-click POST goes to each reader's own List-Unsubscribe link
        headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        custom_args={"issue_id": str(batch.issue_id), "edition_id": str(batch.edition_id), "batch_id": str(batch.id)},
    )


def send_batch(session: Session, batch_id: int, *, sender: Sender, settings: Settings,
               now: datetime | None = None) -> BatchOutcome:
    """Send one batch at most once per lease. Safe to run twice: a batch already taken is skipped."""
    now = now or utcnow()
    batch = _lease(session, batch_id, now, settings)
    if batch is None:
        return BatchOutcome("skipped")
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
    # The last moment a request may start and still end (answered or timed out) within the lease: the
    # sweep takes a batch whose lease ran out for lost as of the lease's end.
    last_start = time.monotonic() + settings.batch_lease_seconds - settings.sendgrid_timeout_seconds
    outcome = _send_leased(session, batch, issue, edition, sender, settings, now, last_start)
    batch.leased_until = None
    session.commit()
    if outcome.status in (BatchStatus.ACCEPTED, BatchStatus.FAILED):
        finish_issue_if_done(session, issue.id, now)
        session.commit()
    return outcome


def _send_leased(session: Session, batch: Batch, issue: Issue, edition: Edition, sender: Sender,
                 settings: Settings, now: datetime, last_start: float) -> BatchOutcome:
    spawned: list[int] = []
    while True:  # each pass sends fewer recipients (invalid ones dropped, or half split off)
        recipients, dropped = _recipients(session, batch, settings)
        if dropped:
            _set_deliveries(session, batch.id, dropped, DeliveryStatus.CANCELLED, now)
        if not recipients:
            batch.status, batch.sent_at = BatchStatus.ACCEPTED, now
            return BatchOutcome(batch.status, spawned=spawned)
        wait = limiter(settings).reserve(len(recipients))
        if wait > MAX_INLINE_WAIT:
            # handed back unsent: a wait for the rate limit is not a failed attempt
            batch.status, batch.attempts = BatchStatus.RETRYING, batch.attempts - 1
            return BatchOutcome(batch.status, retry_in=wait, spawned=spawned)
        time.sleep(wait)
        started = time.monotonic()
        if started > last_start:
            # Too late in the lease (after refusals and splits, each a request): handed back unsent. Nothing
            # was accepted under this lease, only refusals loop back here.
            batch.status = BatchStatus.RETRYING
            return BatchOutcome(batch.status, retry_in=0.0, spawned=spawned)
        try:
            result = sender.send(_outgoing(batch, issue, edition, recipients, settings))
        except SendError as exc:
            counters.record_response(exc.status)
            batch.last_error = str(exc)
            if exc.kind == SendError.INVALID and exc.invalid:
                refused = [recipients[i].delivery_id for i in exc.invalid if i < len(recipients)]
                _set_deliveries(session, batch.id, refused, DeliveryStatus.INVALID, now, error=str(exc))
                session.commit()
                continue
            if exc.kind == SendError.TOO_LARGE and len(recipients) > 1:
                spawned.append(_split(session, batch, recipients, now))
                session.commit()
                continue
            return _failed_attempt(session, batch, issue, exc, settings, now, spawned)
        counters.record_batch(result.status, time.monotonic() - started)
        if result.invalid:
            _set_deliveries(session, batch.id, result.invalid, DeliveryStatus.INVALID, now)
        _set_deliveries(session, batch.id, None, DeliveryStatus.SENT, now)
        batch.message_id, batch.status, batch.sent_at = result.message_id, BatchStatus.ACCEPTED, now
        return BatchOutcome(batch.status, spawned=spawned)


def _failed_attempt(session: Session, batch: Batch, issue: Issue, exc: SendError, settings: Settings,
                    now: datetime, spawned: list[int]) -> BatchOutcome:
    if exc.kind == SendError.AUTH:
        batch.status = BatchStatus.PENDING  # nothing was sent; it goes out on resume
        reason = (f"SendGrid refused our credentials ({exc}). Fix MAILER_SENDGRID_API_KEY, "
                  f"then run `mailer issue resume {issue.number}`.")
        try:
            pause_issue(session, issue, reason)
            log.error("issue #%s paused: %s", issue.number, reason, extra={"issue": issue.number, "batch": batch.id})
        except InvalidTransition:
            pass  # another worker paused it first
        return BatchOutcome(batch.status, spawned=spawned)
    if exc.kind == SendError.UNKNOWN:
        # lost as of now, when the request ended (it may have taken its whole timeout), not the task's start:
        # reconciliation waits for the webhook stream to pass this moment
        batch.status, batch.updated_at = BatchStatus.UNKNOWN, max(now, utcnow())
        log.warning("batch %s: %s; reconciling in %ss", batch.id, exc, settings.reconcile_grace_seconds,
                    extra={"issue": issue.number, "batch": batch.id})
        return BatchOutcome(batch.status, reconcile_in=settings.reconcile_grace_seconds, spawned=spawned)
    if exc.transient and batch.attempts <= settings.send_max_retries:
        batch.status = BatchStatus.RETRYING
        retry_in = exc.retry_after if exc.retry_after is not None else backoff(batch.attempts)
        log.warning("batch %s: %s; retrying in %.1fs", batch.id, exc, retry_in,
                    extra={"issue": issue.number, "batch": batch.id})
        return BatchOutcome(batch.status, retry_in=retry_in, spawned=spawned)
    batch.status = BatchStatus.FAILED
    _set_deliveries(session, batch.id, None, DeliveryStatus.FAILED, now, error=str(exc))
    log.error("batch %s failed after %d attempt(s): %s", batch.id, batch.attempts, exc,
              extra={"issue": issue.number, "batch": batch.id})
    return BatchOutcome(batch.status, spawned=spawned)


def reconcile_batch(session: Session, batch_id: int, now: datetime, settings: Settings) -> BatchOutcome:
    """An `unknown` batch, once its grace period is over: recipients SendGrid reported `processed` count
    as sent; only the others go out again, and only once the webhook stream has caught up with the lost
    answer (a backlog of events must not read as "never accepted")."""
    batch = session.get(Batch, batch_id, populate_existing=True)
    if batch is None or batch.status != BatchStatus.UNKNOWN:
        return BatchOutcome("skipped")
    lost_at = batch.updated_at
    remaining = (lost_at + timedelta(seconds=settings.reconcile_grace_seconds) - now).total_seconds()
    if remaining > 0:
        return BatchOutcome(batch.status, reconcile_in=remaining)
    # Past the grace period a batch that must wait is asked again by the sweep, every maintenance
    # interval: no follow-up of its own, or each tick would start another chain of them.
    waited = (now - lost_at).total_seconds()
    overdue = waited >= settings.reconcile_max_wait_seconds
    # The watermark first: events it has passed were stored before it was read, so the checks below see them.
    caught_up = _webhooks_past(session, lost_at)
    if _evidence_stored_unapplied(session, batch.id):
        if not overdue:
            return BatchOutcome(batch.status)  # its task may have been lost: beat's apply-stored-events runs it
        log.error("batch %s: webhook events stored for %.0f s but never applied; is an events worker running?",
                  batch.id, waited, extra={"batch": batch.id})
    unconfirmed = session.scalar(select(func.count()).where(
        Delivery.batch_id == batch.id, Delivery.status == DeliveryStatus.QUEUED))
    if unconfirmed:
        if not caught_up and not overdue:
            return BatchOutcome(batch.status)
        # compare-and-set, so two reconcilers cannot both send the batch again
        taken = session.execute(
            update(Batch).where(Batch.id == batch.id, Batch.status == BatchStatus.UNKNOWN)
            .values(status=BatchStatus.RETRYING, updated_at=now).execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
        log.warning("batch %s: %d recipient(s) without webhook evidence %.0f s after the answer was lost; "
                    "sending them again",
                    batch.id, unconfirmed, waited, extra={"batch": batch.id})
        return BatchOutcome(BatchStatus.RETRYING, retry_in=0.0) if taken else BatchOutcome("skipped")
    batch.status, batch.sent_at, batch.updated_at = BatchStatus.ACCEPTED, now, now
    session.commit()
    finish_issue_if_done(session, batch.issue_id, now)
    session.commit()
    return BatchOutcome(batch.status)


def _evidence_stored_unapplied(session: Session, batch_id: int) -> bool:
    """Whether webhook events about the batch's recipients are stored but not yet applied."""
    members = select(Delivery.id).where(Delivery.batch_id == batch_id)
    return session.scalar(select(WebhookEvent.id).where(
        WebhookEvent.processed_at.is_(None), WebhookEvent.delivery_id.in_(members)).limit(1)) is not None


WATERMARK_EVENTS = 100


def _webhooks_past(session: Session, moment: datetime) -> bool:
    """Whether the webhook stream has brought events SendGrid timestamped after `moment`: the newest of
    the last events received (they come roughly in order). Behind it, a backlog may still hold the
    evidence for a request made at `moment`."""
    recent = select(WebhookEvent.occurred_at).order_by(WebhookEvent.id.desc()).limit(WATERMARK_EVENTS).subquery()
    watermark = session.scalar(select(func.max(recent.c.occurred_at)))
    return watermark is not None and watermark > moment


def finish_issue_if_done(session: Session, issue_id: int, now: datetime) -> bool:
    """When no batch is open any more: `sent`, or `failed` if every batch failed."""
    # Asked after every batch: while any is open (almost always), one indexed probe answers it.
    if session.scalar(select(Batch.id).where(Batch.issue_id == issue_id, Batch.status.in_(BATCH_OPEN)).limit(1)):
        return False
    counts = dict(session.execute(
        select(Batch.status, func.count()).where(Batch.issue_id == issue_id).group_by(Batch.status)
    ).all())
    if any(counts.get(s, 0) for s in BATCH_OPEN):  # one opened since the probe (a split, a retry)
        return False
    waiting = session.scalar(select(func.count()).where(
        Edition.issue_id == issue_id, or_(Edition.started_at.is_(None), Edition.ledger_done_at.is_(None))))
    if waiting:  # an edition with a later send time, or a ledger still being written, keeps the issue `sending`
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


@dataclass
class Sweep:
    send: list[int]
    reconcile: list[int]


def sweep(session: Session, now: datetime, settings: Settings) -> Sweep:
    """The periodic safety net. A batch whose worker died mid-request may have been sent, so it becomes
    `unknown` (reconciled, never blindly resent); a batch that waited a whole lease for a worker is sent."""
    sending_issues = select(Issue.id).where(Issue.status == IssueStatus.SENDING)
    # The answer is lost as of the lease's end, the last moment its request can have gone out, not as of
    # this sweep: the webhook stream need only pass that moment (events after it may be few, near the end).
    session.execute(
        update(Batch).where(Batch.status == BatchStatus.SENDING, Batch.leased_until < now)
        .values(status=BatchStatus.UNKNOWN, leased_until=None, updated_at=Batch.leased_until,
                last_error="lease expired: the worker went silent mid-send")
        .execution_options(synchronize_session=False)
    )
    session.commit()
    stale = now - timedelta(seconds=settings.batch_lease_seconds)
    grace_over = now - timedelta(seconds=settings.reconcile_grace_seconds)
    send = session.scalars(select(Batch.id).where(
        Batch.issue_id.in_(sending_issues), Batch.status.in_(LEASABLE), Batch.updated_at < stale))
    reconcile = session.scalars(select(Batch.id).where(
        Batch.status == BatchStatus.UNKNOWN, Batch.updated_at <= grace_over))
    found = Sweep(send=list(send), reconcile=list(reconcile))
    # An issue still `sending` with nothing open: whoever closed its last batch or ledger block died before
    # finishing it (for the others, finish_issue_if_done's first probe answers at once).
    for issue_id in session.scalars(sending_issues).all():
        if finish_issue_if_done(session, issue_id, now):
            session.commit()
    return found
