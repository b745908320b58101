"""Thin tasks: batch ids in, the delivery services do the work. A batch is queued only after the rows
that describe it are committed."""

from __future__ import annotations

import logging
import time

from mailer.celery_app import BROKER_DOWN, app, task_named
from mailer.config import Settings, get_settings
from mailer.db import session_scope, utcnow
from mailer.delivery.batches import BatchOutcome
from mailer.delivery.batches import send_batch as send_leased_batch
from mailer.delivery.lifecycle import sweep
from mailer.delivery.models import BatchStatus
from mailer.delivery.stats import left_unscheduled
from mailer.mail import transactional
from mailer.mail.senders import get_sender

log = logging.getLogger(__name__)
IN_PROCESS_MAX_WAIT = 5.0  # with no broker, a retry waits here, briefly, instead of on a queue
# Registered by mailer.events.tasks: reconciling reads webhook events, a layer above delivery, so the task is
# called by its name rather than imported.
RECONCILE_BATCH = "mailer.reconcile_batch"


def _send(batch_id: int, settings: Settings) -> BatchOutcome:
    with session_scope() as session:
        return send_leased_batch(session, batch_id, sender=get_sender(settings), settings=settings)


def follow_up(batch_id: int, outcome: BatchOutcome, settings: Settings, in_process: bool) -> str:
    """Hand on what an outcome asks for: split-off batches, a retry, a reconciliation.

    In process (no broker) a retry waits here, briefly, and runs again: in a loop, since nested calls ran
    out of stack during long waits.
    """
    while True:
        enqueue(outcome.spawned, settings)
        if outcome.retry_in is None:
            break
        if not in_process:
            send_batch.apply_async((batch_id,), countdown=outcome.retry_in)
            return outcome.status
        time.sleep(min(outcome.retry_in, IN_PROCESS_MAX_WAIT))
        outcome = _send(batch_id, settings)
    if outcome.status == BatchStatus.UNKNOWN:
        return (
            reconcile_later([batch_id], settings, countdown=outcome.reconcile_in or 0.0)
            or outcome.status
        )
    return outcome.status


@app.task(name="mailer.send_batch", queue="send", bind=True, acks_late=True)
def send_batch(self, batch_id: int) -> str:
    settings = get_settings()
    in_process = self.request.is_eager or settings.tasks_in_process
    return follow_up(batch_id, _send(batch_id, settings), settings, in_process)


@app.task(name="mailer.sweep_batches", queue="send")
def sweep_batches() -> dict:
    """Beat's safety net for batches, and transactional mails, whose task or worker was lost."""
    settings = get_settings()
    with session_scope() as session:
        found = sweep(session, utcnow(), settings)
        mails = transactional.due(session, utcnow(), settings)
    enqueue(found.send, settings)
    reconcile_later(found.reconcile, settings)
    transactional.dispatch(mails)
    return {"send": len(found.send), "reconcile": len(found.reconcile), "mails": len(mails)}


@app.task(name="mailer.send_due", queue="assemble")
def send_due() -> int:
    """Beat's tick: start the editions whose send time has come, and finish ledgers whose writer died.
    Each block of a ledger is committed before its batches are queued, and a lost enqueue is picked up by
    sweep_batches, so a restart loses nothing."""
    from mailer.delivery import facade  # the facade queues through this module's enqueue

    return len(facade.send_due(get_settings()))


@app.task(name="mailer.warn_unscheduled", queue="assemble")
def warn_unscheduled() -> int:
    """Beat, once a day: an edition left without a send time keeps its issue partly sent for good, and
    nothing else would say so. Returns how many issues were named."""
    with session_scope() as session:
        found = left_unscheduled(session)
    for number, langs in found:
        log.warning(
            "issue #%s: edition(s) %s have no send time and will not go out: give them one (`mailer issue "
            "schedule %s --lang %s --at ...`) or send them now (`mailer issue send %s`)",
            number,
            ", ".join(langs),
            number,
            langs[0],
            number,
            extra={"issue": number},
        )
    return len(found)


def enqueue(batch_ids: list[int], settings: Settings) -> None:
    """Call only after the transaction that wrote these batches has committed. With no broker configured
    the batches run here and now. With the broker down, what is not queued waits in the database as
    `pending`, and beat's sweep queues it once the broker is back: one warning says so, not a traceback."""
    for n, batch_id in enumerate(batch_ids):
        if settings.tasks_in_process:
            send_batch.apply(args=(batch_id,), throw=True)
            continue
        try:
            send_batch.delay(batch_id)
        except BROKER_DOWN as exc:
            left = batch_ids[n:]
            log.warning(
                "%d batch(es) not queued, from batch %s on: broker unreachable (%s: %s); beat's sweep "
                "queues them when it is back",
                len(left),
                batch_id,
                type(exc).__name__,
                exc,
                extra={"batch": batch_id},
            )
            return


def reconcile_later(batch_ids: list[int], settings: Settings, countdown: float = 0.0) -> str | None:
    """Ask about `unknown` batches once their grace period is over. In process it is asked now (and waits
    out the grace period itself); then the last one's final status is returned."""
    status = None
    for batch_id in batch_ids:
        if settings.tasks_in_process:
            status = task_named(RECONCILE_BATCH).apply(args=(batch_id,), throw=True).get()
        else:
            app.send_task(RECONCILE_BATCH, args=(batch_id,), countdown=countdown, queue="send")
    return status
