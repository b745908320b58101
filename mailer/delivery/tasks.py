"""Thin tasks: ids in, services do the work; enqueued only after the ledger is committed."""

from __future__ import annotations

import time

from mailer.celery_app import app
from mailer.config import get_settings
from mailer.db import session_scope, utcnow
from mailer.delivery import service
from mailer.delivery.models import BatchStatus
from mailer.delivery.senders import get_sender

IN_PROCESS_MAX_WAIT = 5.0  # with no broker, a retry waits here, briefly, instead of on a queue


def _send(batch_id: int) -> service.BatchOutcome:
    settings = get_settings()
    with session_scope() as session:
        return service.send_batch(session, batch_id, sender=get_sender(settings), settings=settings)


def _reconcile(batch_id: int) -> service.BatchOutcome:
    with session_scope() as session:
        return service.reconcile_batch(session, batch_id, utcnow(), get_settings())


def _follow_up(task, batch_id: int, outcome: service.BatchOutcome) -> str:
    """Enqueue what an outcome asks for: split-off batches, a retry, a reconciliation.

    With no broker it is done here, waiting briefly between steps, in a loop: nested calls ran out of
    stack during a long reconciliation wait. There is no sweep in-process either, so an `unknown` batch
    the sweep would ask about again is asked about here.
    """
    settings = get_settings()
    in_process = task.request.is_eager or settings.tasks_in_process
    while True:
        enqueue(outcome.spawned)
        retry = outcome.retry_in is not None
        delay = outcome.retry_in if retry else outcome.reconcile_in
        if delay is None and in_process and outcome.status == BatchStatus.UNKNOWN:
            delay = float(settings.maintenance_interval_seconds)
        if delay is None:
            return outcome.status
        if not in_process:
            (send_batch if retry else reconcile_batch).apply_async((batch_id,), countdown=delay)
            return outcome.status
        time.sleep(min(delay, IN_PROCESS_MAX_WAIT))
        outcome = _send(batch_id) if retry else _reconcile(batch_id)


@app.task(name="mailer.send_batch", queue="send", bind=True, acks_late=True)
def send_batch(self, batch_id: int) -> str:
    return _follow_up(self, batch_id, _send(batch_id))


@app.task(name="mailer.reconcile_batch", queue="send", bind=True, acks_late=True)
def reconcile_batch(self, batch_id: int) -> str:
    return _follow_up(self, batch_id, _reconcile(batch_id))


@app.task(name="mailer.sweep_batches", queue="send")
def sweep_batches() -> dict:
    """Beat's safety net for batches whose task or worker was lost."""
    with session_scope() as session:
        found = service.sweep(session, utcnow(), get_settings())
    enqueue(found.send)
    for batch_id in found.reconcile:
        reconcile_batch.delay(batch_id)
    return {"send": len(found.send), "reconcile": len(found.reconcile)}


@app.task(name="mailer.send_due", queue="assemble")
def send_due() -> int:
    """Beat's tick: start the editions whose send time has come, and finish ledgers whose writer died.
    Each block of a ledger is committed before its tasks are enqueued, and a lost enqueue is picked up by
    sweep_batches, so a restart loses nothing."""
    with session_scope() as session:
        return len(service.start_due(session, get_settings(), utcnow(), after_block=enqueue))


def enqueue(batch_ids: list[int]) -> None:
    """Call only after the transaction that wrote these batches has committed.

    With no broker configured the batches run here and now (read at call time, not import time).
    """
    in_process = get_settings().tasks_in_process
    for batch_id in batch_ids:
        if in_process:
            send_batch.apply(args=(batch_id,), throw=True)
        else:
            send_batch.delay(batch_id)


def send_issue(number: int) -> list[int]:
    """`mailer issue send N` (and resume): the issue becomes `sending`, then each edition's ledger is
    written a block at a time, each block committed and its batches enqueued before the next is written,
    so the first recipients are on their way at once."""
    from mailer.issues.models import Edition, Issue
    from mailer.issues.service import get_issue
    from mailer.issues.states import IssueStatus

    settings = get_settings()
    batch_ids: list[int] = []
    editions: list[int] = []
    with session_scope() as session:
        issue = get_issue(session, number)
        issue_id = issue.id
        if issue.status == IssueStatus.PAUSED:
            batch_ids = service.resume_send(session, issue)
        else:
            editions = [e.id for e in service.begin_send(session, issue, utcnow())]
    enqueue(batch_ids)
    for edition_id in editions:
        with session_scope() as session:
            batch_ids += service.start_editions(session, session.get(Issue, issue_id),
                                                [session.get(Edition, edition_id)], settings, utcnow(), enqueue)
    return batch_ids
