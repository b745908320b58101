"""Thin tasks: batch ids in, the delivery services do the work. A batch is queued only after the rows
that describe it are committed.

Each task has one body taking the Runtime (run_*): a Celery worker runs it on the worker process's
Runtime, and mailer.wiring's in-process dispatcher runs the same body when there is no broker."""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import DBAPIError

from mailer.celery_app import app, runtime_of
from mailer.db import utcnow
from mailer.delivery import counters
from mailer.delivery.batches import BatchOutcome
from mailer.delivery.batches import send_batch as send_leased_batch
from mailer.delivery.lifecycle import sweep
from mailer.delivery.models import BatchStatus
from mailer.delivery.stats import left_unscheduled
from mailer.mail import transactional
from mailer.runtime import Runtime

log = logging.getLogger(__name__)


def run_send_batch(rt: Runtime, batch_id: int) -> str:
    try:
        with rt.session() as session:
            outcome = send_leased_batch(
                session, batch_id, sender=rt.sender, settings=rt.settings, store=rt.kv
            )
    except DBAPIError:
        # the batch's lease runs out and the sweep takes it up again; meanwhile a stalled send says why
        counters.record_db_error(rt.kv, time.time())
        raise
    return follow_up(rt, batch_id, outcome)


def follow_up(rt: Runtime, batch_id: int, outcome: BatchOutcome) -> str:
    """Hand on what an outcome asks for: split-off batches, a retry, a reconciliation."""
    rt.tasks.send_batches(outcome.spawned)
    if outcome.retry_in is not None:
        rt.tasks.send_batches([batch_id], countdown=outcome.retry_in)
    elif outcome.status == BatchStatus.UNKNOWN:
        rt.tasks.reconcile([batch_id], countdown=outcome.reconcile_in or 0.0)
    return outcome.status


def run_sweep_batches(rt: Runtime) -> dict:
    """Beat's safety net for batches, and transactional mails, whose task or worker was lost."""
    with rt.session() as session:
        found = sweep(session, utcnow(), rt.settings)
        mails = transactional.due(session, utcnow(), rt.settings)
    rt.tasks.send_batches(found.send)
    rt.tasks.reconcile(found.reconcile)
    rt.tasks.send_mails(mails)
    return {"send": len(found.send), "reconcile": len(found.reconcile), "mails": len(mails)}


def run_send_due(rt: Runtime) -> int:
    """Beat's tick: start the editions whose send time has come, and finish ledgers whose writer died.
    Each block of a ledger is committed before its batches are queued, and a lost enqueue is picked up by
    sweep_batches, so a restart loses nothing."""
    from mailer.delivery import facade

    return len(facade.send_due(rt))


def run_warn_unscheduled(rt: Runtime) -> int:
    """Beat, once a day: an edition left without a send time keeps its issue partly sent for good, and
    nothing else would say so. Returns how many issues were named."""
    with rt.session() as session:
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


@app.task(name="mailer.send_batch", queue="send", bind=True, acks_late=True)
def send_batch(self, batch_id: int) -> str:
    return run_send_batch(runtime_of(self.app), batch_id)


@app.task(name="mailer.sweep_batches", queue="send", bind=True)
def sweep_batches(self) -> dict:
    return run_sweep_batches(runtime_of(self.app))


@app.task(name="mailer.send_due", queue="assemble", bind=True)
def send_due(self) -> int:
    return run_send_due(runtime_of(self.app))


@app.task(name="mailer.warn_unscheduled", queue="assemble", bind=True)
def warn_unscheduled(self) -> int:
    return run_warn_unscheduled(runtime_of(self.app))
