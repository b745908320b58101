"""Thin tasks over the webhook events: apply what is stored, reconcile lost answers, refresh the counts."""

from __future__ import annotations

import time

from mailer.celery_app import app
from mailer.config import get_settings
from mailer.db import session_scope, utcnow
from mailer.delivery import tasks as delivery
from mailer.delivery.models import BatchStatus
from mailer.events.apply import apply_pending
from mailer.events.reconcile import reconcile_batch as reconcile
from mailer.events.stats import refresh_active
from mailer.mail.senders import get_sender


def process_stored() -> int:
    """Apply every stored event not yet applied, a chunk per transaction."""
    total = 0
    while True:
        with session_scope() as session:
            applied = apply_pending(session, utcnow())
        total += applied
        if not applied:
            return total


@app.task(name="mailer.process_events", queue="events", acks_late=True)
def process_events() -> int:
    return process_stored()


def enqueue_processing() -> None:
    """After the events are committed: on the events queue, or here and now without a broker."""
    if get_settings().tasks_in_process:
        process_stored()
    else:
        process_events.delay()


@app.task(name=delivery.RECONCILE_BATCH, queue="send", bind=True, acks_late=True)
def reconcile_batch(self, batch_id: int) -> str:
    """An `unknown` batch: asked again after its grace period; what it finds unconfirmed is sent again.

    With a broker a batch still waiting for the event stream is asked again by beat's sweep. In process
    there is no sweep: it is asked again here, after a maintenance interval (waiting briefly, in a loop).
    """
    settings = get_settings()
    in_process = self.request.is_eager or settings.tasks_in_process
    while True:
        with session_scope() as session:
            outcome = reconcile(session, batch_id, utcnow(), settings, get_sender(settings))
        if outcome.status != BatchStatus.UNKNOWN:
            return delivery.follow_up(batch_id, outcome, settings, in_process)
        delay = outcome.reconcile_in
        if not in_process:
            if delay is not None:
                reconcile_batch.apply_async((batch_id,), countdown=delay)
            return outcome.status
        time.sleep(
            min(delay or float(settings.maintenance_interval_seconds), delivery.IN_PROCESS_MAX_WAIT)
        )


@app.task(name="mailer.refresh_issue_counts", queue="assemble")
def refresh_issue_counts() -> int:
    """Beat: store fresh counts of the issues in flight or recently sent, for the dashboard and /metrics."""
    with session_scope() as session:
        return refresh_active(session, utcnow(), get_settings())
