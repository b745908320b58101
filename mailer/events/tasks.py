"""Thin tasks over the webhook events: apply what is stored, reconcile lost answers, refresh the counts.

Each has one body taking the Runtime (run_*), which a worker and the in-process dispatcher both run."""

from __future__ import annotations

from datetime import datetime

from mailer.celery_app import app, runtime_of
from mailer.db import utcnow
from mailer.delivery.models import BatchStatus
from mailer.delivery.tasks import follow_up
from mailer.events.apply import apply_pending
from mailer.events.dead_rows import vacuum_dead
from mailer.events.reconcile import reconcile_batch as reconcile
from mailer.events.retention import run_prune
from mailer.events.stats import refresh_active
from mailer.runtime import Runtime
from subscribers.lookup import store_counts


def run_process_events(rt: Runtime, now: datetime | None = None) -> int:
    """Apply every stored event not yet applied, a chunk per transaction (at `now`, by default the
    moment of each chunk); then the partitions the marking left dead rows enough in are vacuumed."""
    total = 0
    while True:
        with rt.session() as session:
            applied = apply_pending(session, now or utcnow(), rt.settings)
        total += applied
        if not applied:
            break
    if total:
        vacuum_dead(rt)
    return total


def run_reconcile_batch(rt: Runtime, batch_id: int) -> str:
    """An `unknown` batch: asked again after its grace period; what it finds unconfirmed is sent again.

    A batch still waiting for the event stream is asked again later: by beat's sweep where beat runs,
    else by this task itself after a maintenance interval."""
    with rt.session() as session:
        outcome = reconcile(session, batch_id, utcnow(), rt.settings, rt.sender)
    if outcome.status != BatchStatus.UNKNOWN:
        return follow_up(rt, batch_id, outcome)
    delay = outcome.reconcile_in
    if delay is None and not rt.tasks.beat_sweeps:
        delay = float(rt.settings.maintenance_interval_seconds)
    if delay is not None:
        rt.tasks.reconcile([batch_id], countdown=delay)
    return outcome.status


def run_refresh_issue_counts(rt: Runtime) -> int:
    """Beat: store fresh counts of the issues in flight or recently sent, and of the list, for the
    dashboard and /metrics."""
    with rt.session() as session:
        store_counts(session, rt.kv, 2 * rt.settings.stats_refresh_seconds)
        return refresh_active(session, utcnow(), rt.settings)


@app.task(name="mailer.process_events", queue="events", bind=True, acks_late=True)
def process_events(self) -> int:
    return run_process_events(runtime_of(self.app))


@app.task(name="mailer.reconcile_batch", queue="send", bind=True, acks_late=True)
def reconcile_batch(self, batch_id: int) -> str:
    return run_reconcile_batch(runtime_of(self.app), batch_id)


@app.task(name="mailer.refresh_issue_counts", queue="assemble", bind=True)
def refresh_issue_counts(self) -> int:
    return run_refresh_issue_counts(runtime_of(self.app))


@app.task(name="mailer.prune", queue="assemble", bind=True)
def prune(self) -> dict:
    """Beat, daily: retention (mailer.events.retention)."""
    done = run_prune(runtime_of(self.app))
    return {"events": done.events, "deliveries": done.deliveries, "finalized": len(done.finalized)}
