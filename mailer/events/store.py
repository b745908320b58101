"""Storing webhook events: raw, in one transaction, before anything acts on them; a retried post
(SendGrid retries for 24 hours) adds nothing because sg_event_id is unique."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from mailer.db import upsert_insert
from mailer.events.models import WebhookEvent

CHUNK = 1000


class BadPayload(ValueError):
    pass


def parse(body: bytes) -> list[dict]:
    """SendGrid posts a JSON array of event objects."""
    try:
        events = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadPayload("body is not JSON") from exc
    if not isinstance(events, list) or not all(isinstance(e, dict) and isinstance(e.get("event"), str)
                                               for e in events):
        raise BadPayload("body is not a JSON array of events")
    return events


def _event_id(event: dict) -> str:
    # SendGrid always sends one; a hash of the content keeps an odd event idempotent all the same
    return str(event.get("sg_event_id") or "h:" + hashlib.sha256(
        json.dumps(event, sort_keys=True).encode()).hexdigest()[:40])


def _int(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _when(event: dict) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(event["timestamp"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def store(session: Session, events: list[dict], now: datetime) -> int:
    """Insert the events not seen before; returns how many were new."""
    new = 0
    for start in range(0, len(events), CHUNK):
        rows = [
            {"sg_event_id": _event_id(e), "event": e["event"][:32], "email": (e.get("email") or None),
             "occurred_at": _when(e), "payload": e, "received_at": now,
             # our custom_args, flattened into the event by SendGrid
             "issue_id": _int(e.get("issue_id")), "delivery_id": _int(e.get("delivery_id"))}
            for e in events[start:start + CHUNK]
        ]
        statement = (upsert_insert(session, WebhookEvent).on_conflict_do_nothing(index_elements=["sg_event_id"])
                     .returning(WebhookEvent.id))  # returns only the rows inserted: the new ones
        new += len(session.connection().execute(statement, rows).all())
    return new
