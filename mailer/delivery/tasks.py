"""Thin tasks: batch ids in, the delivery services do the work. A batch is queued only after the rows
that describe it are committed.

Each task has one body taking the Runtime (run_*): a Celery worker runs it on the worker process's
Runtime, and mailer.wiring's in-process dispatcher runs the same body when there is no broker."""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import datetime

from kombu.exceptions import KombuError
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError

from mailer.celery_app import STORE_RETRIES, app, runtime_of, store_retry_in
from mailer.db import connection_lost, utcnow
from mailer.delivery import counters
from mailer.delivery.batches import BatchOutcome, Interrupted
from mailer.delivery.batches import send_batch as send_leased_batch
from mailer.delivery.lifecycle import hand_back, sweep
from mailer.delivery.models import BatchStatus
from mailer.delivery.stats import left_unscheduled
from mailer.mail import transactional
from mailer.runtime import Runtime

log = logging.getLogger(__name__)
# What a send task meets when the database or the broker blinks (a restart, a failover): retried with
# backoff, never dropped. A batch whose retries run out is pending (or leased) still, and the sweep
# takes it up.
STORE_DOWN = (DBAPIError, RedisError, KombuError)  # of which, database errors for connection_lost()


def run_send_batch(rt: Runtime, batch_id: int, lease: str | None = None) -> str:
    """Send one batch. `lease`: a retry's, the lease (ISO time) that an earlier run held when the
    database stopped answering, settled first. Raises Interrupted when the database (or Redis) stops
    answering: the caller retries (with `lease=` the lease it names)."""
    try:
        if lease is not None:
            with rt.session() as session:
                settled = hand_back(session, batch_id, datetime.fromisoformat(lease), utcnow())
            if settled == BatchStatus.UNKNOWN:
                return _reconcile_later(rt, batch_id)
        with rt.session() as session:
            outcome = send_leased_batch(
                session, batch_id, sender=rt.sender, settings=rt.settings, store=rt.kv
            )
    except Interrupted as exc:
        counters.record_db_error(rt.kv, time.time())
        settled = _settle_now(rt, exc)
        if settled == BatchStatus.UNKNOWN:
            return _reconcile_later(rt, batch_id)
        if settled == BatchStatus.PENDING:  # the retry leases it afresh
            raise Interrupted(batch_id, None) from exc.__cause__
        raise
    except STORE_DOWN as exc:
        counters.record_db_error(rt.kv, time.time())
        if isinstance(exc, DBAPIError) and not connection_lost(exc):
            raise
        # before a lease: the batch is as it was (pending, or leased by this run's earlier attempt)
        raise Interrupted(batch_id, _lease_of(lease)) from exc
    return follow_up(rt, batch_id, outcome)


def _lease_of(lease: str | None) -> datetime | None:
    return None if lease is None else datetime.fromisoformat(lease)


def _settle_now(rt: Runtime, exc: Interrupted) -> BatchStatus | None:
    """The database may be back already (a blip): the lease is settled now (lifecycle.hand_back), so
    that neither the next sweep nor a duplicate task waits for the retry. Otherwise the retry does it."""
    if exc.leased_until is not None:
        try:
            with rt.session() as session:
                return hand_back(session, exc.batch_id, exc.leased_until, utcnow())
        except STORE_DOWN:
            pass
    return None


def _reconcile_later(rt: Runtime, batch_id: int) -> str:
    grace = rt.settings.reconcile_grace_seconds
    return follow_up(rt, batch_id, BatchOutcome(BatchStatus.UNKNOWN, reconcile_in=grace))


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
    # Redis's counts into the database, should nobody scrape for a while; never at the sweep's cost
    with contextlib.suppress(*STORE_DOWN), rt.session() as session:
        counters.fold(rt.kv, session)
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
def send_batch(self, batch_id: int, lease: str | None = None) -> str:
    try:
        return run_send_batch(runtime_of(self.app), batch_id, lease)
    except Interrupted as exc:
        held = None if exc.leased_until is None else exc.leased_until.isoformat()
        raise self.retry(
            args=(batch_id,),
            kwargs={"lease": held},
            countdown=store_retry_in(self.request.retries),
            max_retries=STORE_RETRIES,
            exc=exc,
        ) from exc


@app.task(name="mailer.sweep_batches", queue="send", bind=True)
def sweep_batches(self) -> dict:
    return run_sweep_batches(runtime_of(self.app))


@app.task(name="mailer.send_due", queue="assemble", bind=True)
def send_due(self) -> int:
    return run_send_due(runtime_of(self.app))


@app.task(name="mailer.warn_unscheduled", queue="assemble", bind=True)
def warn_unscheduled(self) -> int:
    return run_warn_unscheduled(runtime_of(self.app))
