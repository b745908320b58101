"""Storing webhook events: raw, in one transaction, before anything acts on them; a retried post
(SendGrid retries for 24 hours) adds nothing because sg_event_id is unique.

Each event is checked on its own: one that the table cannot hold (a list for an address, an id longer
than its column, a date no calendar has, a NUL) is stored as `rejected`, with its reason and nothing
personal, and the good events beside it are kept. An event for an erased address keeps no personal
data (mailer.events.privacy.EVENT_KEYS_KEPT)."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from mailer.db import upsert_insert
from mailer.events.models import WebhookEvent
from mailer.events.privacy import scrub
from mailer.events.raw import MACHINE_OPEN, REJECTED, given_back, lean
from subscribers import suppression
from subscribers.emails import InvalidEmail, normalize

log = logging.getLogger(__name__)
CHUNK = 1000
# Column sizes (mailer.events.models) and the ranges of our custom_args' columns
MAX_EVENT, MAX_EVENT_ID, MAX_EMAIL = 32, 100, 320
MAX_INT32, MAX_INT64 = 2**31 - 1, 2**63 - 1
MAX_DEPTH = 16  # SendGrid's events are flat, with a list or two; deeper is nobody's event
LAST_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z: the last second a datetime holds


class BadPayload(ValueError):
    pass


class _Unreadable(str):
    """A JSON value Python reads but no column holds (NaN, Infinity, a number of 100 digits or more):
    kept as its text so that the event carrying it is rejected, not the whole post."""


def _number(text: str):
    return _Unreadable(text) if len(text) > 99 else int(text)


def _fraction(text: str):
    # 1e999 reads as an infinity, which no JSON column stores
    value = float(text)
    return value if math.isfinite(value) else _Unreadable(text)


def parse(body: bytes) -> list:
    """SendGrid posts a JSON array of event objects; the events themselves are checked one by one."""
    try:
        events = json.loads(
            body, parse_constant=_Unreadable, parse_int=_number, parse_float=_fraction
        )
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadPayload("body is not JSON") from exc
    if not isinstance(events, list):
        raise BadPayload("body is not a JSON array of events")
    return events


def _content_problem(event: dict) -> str | None:
    """What no column holds, anywhere in the event: a NUL, an unreadable number, nesting past MAX_DEPTH.
    Walked with a list, not recursion: a post is not to choose how deep this stack goes."""
    stack = [(event, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, _Unreadable):
            return "holds a number out of range"
        if isinstance(value, str):
            if "\x00" in value:
                return "holds a NUL character"
        elif isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH}"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                stack.append((key, depth + 1))
                stack.append((item, depth + 1))
    return None


def _int(value, top: int) -> int | None:
    """One of our custom_args ids (SendGrid sends them back as strings), or None when it is not one that
    its column holds: the event is kept, it just names none of our rows."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 <= number <= top else None


def problem(event) -> str | None:
    """Why this event cannot be stored as it is, or None."""
    if not isinstance(event, dict):
        return "not a JSON object"
    kind = event.get("event")
    if not isinstance(kind, str) or not 0 < len(kind) <= MAX_EVENT:
        return f"event is not a name of at most {MAX_EVENT} characters"
    content = _content_problem(event)
    if content:
        return content
    email = event.get("email")
    if email is not None and not (isinstance(email, str) and len(email) <= MAX_EMAIL):
        return f"email is not a text of at most {MAX_EMAIL} characters"
    event_id = event.get("sg_event_id")
    if event_id is not None and not (
        isinstance(event_id, str | int)
        and not isinstance(event_id, bool)
        and len(str(event_id)) <= MAX_EVENT_ID
    ):
        return f"sg_event_id is not a text of at most {MAX_EVENT_ID} characters"
    stamp = event.get("timestamp")
    if stamp is not None and (
        isinstance(stamp, bool)
        or not isinstance(stamp, int | float)
        or not 0 <= stamp <= LAST_TIMESTAMP
    ):
        return "timestamp is not a date"
    return None


def _digest(event) -> str:
    return hashlib.sha256(json.dumps(event, sort_keys=True, default=str).encode()).hexdigest()[:40]


def _event_id(event: dict) -> str:
    # SendGrid always sends one; a hash of the content keeps an odd event idempotent all the same
    return str(event.get("sg_event_id") or "h:" + _digest(event))


def _when(event: dict) -> datetime | None:
    stamp = event.get("timestamp")
    return datetime.fromtimestamp(int(stamp), UTC) if stamp is not None else None


def _address(email) -> str | None:
    try:
        return normalize(email) if email else None
    except InvalidEmail:
        return None


def kind(event: dict) -> str:
    """The event's name as stored: SendGrid's, except that an open it marks as a machine's (Apple Mail
    Privacy Protection and other proxies fetch every image: `sg_machine_open`) is filed apart, so that
    no figure or fact about readers counts it, and it stays countable on its own."""
    if event["event"] == "open" and event.get("sg_machine_open") is True:
        return MACHINE_OPEN
    return event["event"]


def _row(event: dict, now: datetime, erased: bool) -> dict:
    event_id, filed_as, email, when = (
        _event_id(event),
        kind(event),
        None if erased else (event.get("email") or None),
        _when(event),
    )
    # our custom_args, flattened into the event by SendGrid
    issue_id = _int(event.get("issue_id"), MAX_INT32)
    delivery_id = _int(event.get("delivery_id"), MAX_INT64)
    columns = given_back(filed_as, email, when, event_id, issue_id, delivery_id)
    return {
        "sg_event_id": event_id,
        "event": filed_as,
        "email": email,
        "occurred_at": when,
        "received_at": now,
        "processed_at": None,
        "error": None,
        # what the columns hold is not stored twice (mailer.events.raw)
        "payload": lean(scrub(event) if erased else event, columns),
        "issue_id": issue_id,
        "delivery_id": delivery_id,
    }


def _rejection(event, reason: str, now: datetime) -> dict:
    # the reason alone: a rejected event may be anything, and whatever it holds stays out of the table;
    # its id is its content's hash, so SendGrid's retries of it are stored once too
    return {
        "sg_event_id": "rejected:" + _digest(event),
        "event": REJECTED,
        "email": None,
        "occurred_at": None,
        "received_at": now,
        "processed_at": now,
        "error": reason,
        "payload": {"rejected": reason},
        "issue_id": None,
        "delivery_id": None,
    }


@dataclass
class Stored:
    new: int = 0  # rows inserted, rejections included
    rejected: int = 0  # events of the post that could not be stored as they are
    kinds: list[str] = field(default_factory=list)  # the accepted events' names, for the counters


def store(session: Session, events: list, now: datetime) -> Stored:
    """Insert the events not seen before; the rejected ones as rejections. The rows go in in order of
    sg_event_id: two posts holding the same events (SendGrid's retries overlap a post still in flight)
    wait on each other's unique keys in one order, never each on the other's."""
    result = Stored()
    rows: list[dict] = []
    for start in range(0, len(events), CHUNK):
        chunk, checked = events[start : start + CHUNK], []
        for event in chunk:
            reason = problem(event)
            checked.append((event, reason))
            if reason:
                log.warning("webhook event rejected: %s", reason)
        addresses = {
            e.get("email"): _address(e.get("email")) for e, reason in checked if not reason
        }
        erased = suppression.erased_among(session, {a for a in addresses.values() if a})
        for event, reason in checked:
            if reason:
                result.rejected += 1
                rows.append(_rejection(event, reason, now))
            else:
                result.kinds.append(kind(event))
                rows.append(_row(event, now, addresses[event.get("email")] in erased))
    rows.sort(key=lambda row: row["sg_event_id"])
    statement = (
        upsert_insert(session, WebhookEvent)
        # no target: the dedupe key is sg_event_id on SQLite, (issue_id, sg_event_id) on PostgreSQL,
        # where the table is partitioned by issue (mailer.events.models)
        .on_conflict_do_nothing()
        .returning(WebhookEvent.id)
    )  # returns only the rows inserted: the new ones
    for start in range(0, len(rows), CHUNK):
        result.new += len(
            session.connection().execute(statement, rows[start : start + CHUNK]).all()
        )
    return result
