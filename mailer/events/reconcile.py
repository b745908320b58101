"""Reconciling a lost answer: a batch whose request went out but whose answer never came (`unknown`) is
resent only to the recipients SendGrid's webhook events do not show as `processed`, and only once the
event stream has passed the moment the answer was lost. When the stream is quiet (the send is over), a
probe (mailer.mail.probes) makes it pass that moment."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.delivery.batches import BatchOutcome
from mailer.delivery.lifecycle import finish_issue_if_done
from mailer.delivery.models import Batch, BatchStatus, Delivery, DeliveryStatus
from mailer.delivery.states import moving
from mailer.events.models import WebhookEvent
from mailer.mail.probes import probe
from mailer.mail.senders import Sender, SendError

log = logging.getLogger(__name__)
WATERMARK_EVENTS = 100


def reconcile_batch(
    session: Session, batch_id: int, now: datetime, settings: Settings, sender: Sender | None = None
) -> BatchOutcome:
    """An `unknown` batch: settled `accepted` at once when every recipient already has webhook evidence;
    otherwise once its grace period is over, recipients SendGrid reported `processed` count as sent; only the others go out again, and only once the webhook stream has caught up with the lost
    answer (a backlog of events must not read as "never accepted")."""
    batch = session.get(Batch, batch_id, populate_existing=True)
    if batch is None or batch.status != BatchStatus.UNKNOWN:
        return BatchOutcome("skipped")
    lost_at = batch.updated_at
    remaining = (
        lost_at + timedelta(seconds=settings.reconcile_grace_seconds) - now
    ).total_seconds()
    if remaining > 0:
        # Every recipient's webhook evidence already in: the request was accepted, nothing to wait for.
        if not evidenced(session, batch):
            return BatchOutcome(batch.status, reconcile_in=remaining)
        return _accept(session, batch, now)
    # Past the grace period a batch that must wait is asked again by the sweep, every maintenance
    # interval: no follow-up of its own, or each tick would start another chain of them.
    waited = (now - lost_at).total_seconds()
    overdue = waited >= settings.reconcile_max_wait_seconds
    # The watermark first: events it has passed were stored before it was read, so the checks below see them.
    caught_up = _webhooks_past(session, lost_at)
    if _evidence_stored_unapplied(session, batch):
        if not overdue:
            return BatchOutcome(
                batch.status
            )  # its task may have been lost: beat's apply-stored-events runs it
        log.error(
            "batch %s: webhook events stored for %.0f s but never applied; is an events worker running?",
            batch.id,
            waited,
            extra={"batch": batch.id},
        )
    unconfirmed = session.scalar(
        select(func.count()).where(*_members(batch), Delivery.status == DeliveryStatus.QUEUED)
    )
    if unconfirmed:
        if not caught_up and not overdue:
            if settings.probe_email and sender is not None:
                _probe(session, batch, now, settings, sender)
            return BatchOutcome(batch.status)
        # compare-and-set, so two reconcilers cannot both send the batch again
        taken = session.execute(  # type: ignore[attr-defined]  # execute() is typed Result; DML gives a CursorResult
            moving(BatchStatus.RETRYING, from_=[BatchStatus.UNKNOWN])
            .where(Batch.id == batch.id)
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
        log.warning(
            "batch %s: %d recipient(s) without webhook evidence %.0f s after the answer was lost; "
            "sending them again",
            batch.id,
            unconfirmed,
            waited,
            extra={"batch": batch.id},
        )
        return (
            BatchOutcome(BatchStatus.RETRYING, retry_in=0.0) if taken else BatchOutcome("skipped")
        )
    return _accept(session, batch, now)


def _accept(session: Session, batch: Batch, now: datetime) -> BatchOutcome:
    """Settle the batch as accepted: none of its recipients is left without webhook evidence."""
    # compare-and-set as well: a cancel, or another reconciler, may have moved it since it was read
    accepted = session.scalar(
        moving(BatchStatus.ACCEPTED, from_=[BatchStatus.UNKNOWN])
        .where(Batch.id == batch.id)
        .values(sent_at=now, updated_at=now)
        .returning(Batch.id)
        .execution_options(synchronize_session="evaluate")  # the batch read above follows
    )
    session.commit()
    if accepted is None:
        return BatchOutcome("skipped")
    finish_issue_if_done(session, batch.issue_id, now)
    session.commit()
    return BatchOutcome(BatchStatus.ACCEPTED)


def _probe(
    session: Session, batch: Batch, now: datetime, settings: Settings, sender: Sender
) -> None:
    """Send a probe, unless one went out since this batch's loss less than a grace period ago (for it or
    for another batch lost at the same time): its `processed` event, stamped now, moves the watermark past
    the loss. Recorded before it is sent, so two reconcilers send it once; a probe lost on its way is sent
    again a grace period later."""
    lost_at, recent = batch.updated_at, now - timedelta(seconds=settings.reconcile_grace_seconds)
    if session.scalar(
        select(Batch.id).where(Batch.probe_sent_at > lost_at, Batch.probe_sent_at > recent).limit(1)
    ):
        return
    taken = session.execute(  # type: ignore[attr-defined]  # execute() is typed Result; DML gives a CursorResult
        update(Batch)
        .where(
            Batch.id == batch.id, or_(Batch.probe_sent_at.is_(None), Batch.probe_sent_at <= recent)
        )
        # updated_at is when the answer was lost: it must not move (as onupdate would have it)
        .values(probe_sent_at=now, updated_at=Batch.updated_at)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    if not taken:
        return
    try:
        sender.send(probe(settings, batch.id))
    except SendError as exc:
        log.warning(
            "batch %s: the probe to see the webhook stream pass its lost answer failed (%s); "
            "trying again in %ss",
            batch.id,
            exc,
            settings.reconcile_grace_seconds,
            extra={"batch": batch.id},
        )
        return
    log.info(
        "batch %s: probe sent to %s; its processed event will show the webhook stream has passed the loss",
        batch.id,
        settings.probe_email,
        extra={"batch": batch.id},
    )


def _members(batch: Batch):
    """The batch's ledger rows; on PostgreSQL in the issue's partition alone."""
    return (Delivery.issue_id == batch.issue_id, Delivery.batch_id == batch.id)


def evidenced(session: Session, batch: Batch) -> bool:
    """Whether every recipient of the batch has evidence of its own (none is left `queued`), and no
    stored event about them is waiting to be applied."""
    queued = session.scalar(
        select(Delivery.id)
        .where(*_members(batch), Delivery.status == DeliveryStatus.QUEUED)
        .limit(1)
    )
    return queued is None and not _evidence_stored_unapplied(session, batch)


def _evidence_stored_unapplied(session: Session, batch: Batch) -> bool:
    """Whether webhook events about the batch's recipients are stored but not yet applied (looked for
    in every partition of the events: one that came without its issue is evidence too)."""
    members = select(Delivery.id).where(*_members(batch))
    return (
        session.scalar(
            select(WebhookEvent.id)
            .where(WebhookEvent.processed_at.is_(None), WebhookEvent.delivery_id.in_(members))
            .limit(1)
        )
        is not None
    )


def _webhooks_past(session: Session, moment: datetime) -> bool:
    """Whether the webhook stream has brought events SendGrid timestamped after `moment`: the newest of
    the last events received (they come roughly in order). Behind it, a backlog may still hold the
    evidence for a request made at `moment`."""
    recent = (
        select(WebhookEvent.occurred_at)
        .order_by(WebhookEvent.id.desc())
        .limit(WATERMARK_EVENTS)
        .subquery()
    )
    watermark = session.scalar(select(func.max(recent.c.occurred_at)))
    return watermark is not None and watermark > moment
