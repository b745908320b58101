"""POST /webhooks/sendgrid: verify the signature, store the raw events in one transaction, answer 2xx,
and leave the work to the `events` queue. A forged, unsigned or stale post changes nothing."""

from __future__ import annotations

import logging
import time
from collections import Counter

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from mailer.config import get_settings
from mailer.db import session_scope, utcnow
from mailer.delivery import counters
from mailer.events import signature, store
from mailer.events.tasks import enqueue_processing

log = logging.getLogger(__name__)
router = APIRouter()


def _refuse(status: int, reason: str) -> JSONResponse:
    log.warning("webhook refused: %s", reason)
    return JSONResponse({"error": reason}, status_code=status)


def _store(events: list[dict]) -> int:
    with session_scope() as session:
        new = store.store(session, events, utcnow())
    enqueue_processing()  # only once the events are committed
    return new


@router.post("/webhooks/sendgrid")
async def sendgrid_events(request: Request) -> JSONResponse:
    settings = get_settings()
    key = settings.sendgrid_webhook_public_key
    if not key:  # never accept unsigned events, even by omission
        return _refuse(503, "MAILER_SENDGRID_WEBHOOK_PUBLIC_KEY is not configured")
    sig = request.headers.get(signature.SIGNATURE_HEADER)
    stamp = request.headers.get(signature.TIMESTAMP_HEADER)
    if not sig or not stamp:
        return _refuse(401, "missing signature headers")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > settings.webhook_max_age_seconds:
        return _refuse(403, "timestamp outside the accepted window")
    body = await request.body()
    if not signature.verify(body, stamp, sig, key):
        return _refuse(403, "bad signature")
    try:
        events = store.parse(body)
    except store.BadPayload as exc:
        return _refuse(400, str(exc))
    new = await run_in_threadpool(_store, events)
    counters.record_events(Counter(e["event"] for e in events))
    return JSONResponse({"received": len(events), "new": new})
