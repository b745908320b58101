"""POST /webhooks/sendgrid: verify the signature, store the raw events in one transaction, answer 2xx,
and leave the work to the `events` queue. A forged, unsigned, stale or oversized post changes nothing;
in a signed post, an event that cannot be stored is recorded as rejected and the others are kept."""

from __future__ import annotations

import logging
import time
from collections import Counter

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from mailer.db import utcnow
from mailer.delivery import counters
from mailer.events import signature, store
from mailer.runtime import Runtime
from mailer.web.deps import get_runtime

log = logging.getLogger(__name__)
router = APIRouter()


def _refuse(status: int, reason: str) -> JSONResponse:
    log.warning("webhook refused: %s", reason)
    return JSONResponse({"error": reason}, status_code=status)


class TooLarge(Exception):
    pass


async def _read_capped(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it passes `limit`: a declared length is believed only when it says
    too much, and a streamed (or lying) body is counted as it arrives, so nothing over the limit is held."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _store(runtime: Runtime, events: list) -> store.Stored:
    with runtime.session() as session:
        stored = store.store(session, events, utcnow())
    runtime.tasks.apply_events()  # only once the events are committed
    return stored


@router.post("/webhooks/sendgrid")
async def sendgrid_events(request: Request) -> JSONResponse:
    runtime = get_runtime(request)
    settings = runtime.settings
    key = settings.sendgrid_webhook_public_key
    if not key:  # never accept unsigned events, even by omission
        return _refuse(503, "MAILER_SENDGRID_WEBHOOK_PUBLIC_KEY is not configured")
    sig = request.headers.get(signature.SIGNATURE_HEADER)
    stamp = request.headers.get(signature.TIMESTAMP_HEADER)
    if not sig or not stamp:
        return _refuse(401, "missing signature headers")
    # ASCII digits only: "²²²" passes str.isdigit() but not int(); and a short one, not a 5000-digit int
    if (
        not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12)
        or abs(time.time() - int(stamp)) > settings.webhook_max_age_seconds
    ):
        return _refuse(403, "timestamp outside the accepted window")
    try:
        body = await _read_capped(request, settings.webhook_max_bytes)
    except TooLarge:
        return _refuse(413, f"body larger than {settings.webhook_max_bytes} bytes")
    if not signature.verify(body, stamp, sig, key):
        return _refuse(403, "bad signature")
    try:
        events = store.parse(body)
    except store.BadPayload as exc:
        return _refuse(400, str(exc))
    stored = await run_in_threadpool(_store, runtime, events)
    counters.record_events(runtime.kv, Counter(stored.kinds))
    return JSONResponse({"received": len(events), "new": stored.new, "rejected": stored.rejected})
