"""Thin tasks: ids in, services do the work; enqueued only after the ledger is committed."""

from __future__ import annotations

import time

from mailer.celery_app import app
from mailer.config import get_settings
from mailer.db import session_scope, utcnow
from mailer.delivery import service
from mailer.delivery.senders import get_sender

IN_PROCESS_MAX_WAIT = 5.0


@app.task(name="mailer.send_batch", queue="send", bind=True, max_retries=None, acks_late=True)
def send_batch(self, batch_id: int) -> str:
    settings = get_settings()
    with session_scope() as session:
        outcome = service.send_batch(session, batch_id, sender=get_sender(settings), settings=settings)
    if outcome.retry_in is None:
        return outcome.status
    if self.request.is_eager:  # in-process: no worker comes back later, so wait here and try again
        time.sleep(min(outcome.retry_in, IN_PROCESS_MAX_WAIT))
        return send_batch(batch_id)
    raise self.retry(countdown=outcome.retry_in)


@app.task(name="mailer.requeue_stale_batches", queue="send")
def requeue_stale_batches() -> int:
    with session_scope() as session:
        ids = service.requeue_stale(session, utcnow(), get_settings())
    enqueue(ids)
    return len(ids)


def enqueue(batch_ids: list[int]) -> None:
    """Call only after the transaction that wrote these batches has committed.

    With no broker configured the batches run here and now (read at call time, not import time).
    """
    in_process = not get_settings().broker_url
    for batch_id in batch_ids:
        if in_process:
            send_batch.apply(args=(batch_id,), throw=True)
        else:
            send_batch.delay(batch_id)


def send_issue(number: int) -> list[int]:
    """`mailer issue send N`: write the ledger and batches, commit, then enqueue them."""
    from mailer.issues.service import get_issue

    settings = get_settings()
    with session_scope() as session:
        batch_ids = service.start_send(session, get_issue(session, number), settings, utcnow())
    enqueue(batch_ids)
    return batch_ids
