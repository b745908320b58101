"""Counters every worker adds to and the web app's /metrics reads. An increment goes to the key-value
store (mailer.kv: Redis when a broker is set, this process otherwise), never to the database: the
send path pays one Redis round trip a batch. Each scrape and each sweep moves what the store holds into
the database (`fold`), and /metrics exports the database's totals, so a Redis restart that empties it
costs at most the increments since the last fold and no exported counter ever goes down."""

from __future__ import annotations

import contextlib
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.db import upsert_insert
from mailer.delivery.models import MetricCount
from mailer.kv import Store, Unavailable

KEY = "mailer:metrics"
# upper bounds (seconds) of the batch latency histogram
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def read(store: Store) -> dict[str, float]:
    """What the store holds and no fold has moved to the database yet."""
    return store.counts(KEY)


def fold(store: Store, session: Session) -> dict[str, float]:
    """Move the store's counts into the database (one statement, committed) and return every total.
    Two folds at once each move their own share (the store hands out each amount once); a database
    that refuses gets the amounts back into the store for the next fold."""
    try:
        moved = store.drain(KEY)
    except Unavailable:
        moved = {}
    if moved:
        try:
            _add(session, moved)
            session.commit()
        except Exception:
            session.rollback()
            _safe_add(store, moved)
            raise
    return totals(session)


def totals(session: Session) -> dict[str, float]:
    rows = session.execute(select(MetricCount.name, MetricCount.value))
    return {name: value for name, value in rows}


def _add(session: Session, amounts: dict[str, float]) -> None:
    # sorted: two folds at once lock the rows in the same order
    rows = [{"name": name, "value": value} for name, value in sorted(amounts.items())]
    statement = upsert_insert(session, MetricCount.__table__).values(rows)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[MetricCount.name],
            set_={"value": MetricCount.value + statement.excluded.value},
        )
    )


def _safe_add(store: Store, items: dict[str, float]) -> None:
    with contextlib.suppress(Unavailable):  # metrics must never stop a send
        store.add(KEY, items)


DB_ERROR_AT = "mailer:db_error_at"  # when a worker last met a database error (Unix time)
DB_ERROR_TTL = 3600


def record_db_error(store: Store, now: float) -> None:
    """A send task met a database error: a stalled send's reason, for ops status and the desk."""
    with contextlib.suppress(Unavailable):
        store.set(DB_ERROR_AT, repr(now), ttl=DB_ERROR_TTL)


def db_error_within(store: Store, now: float, seconds: float) -> bool:
    """Whether a worker met a database error in the last `seconds`."""
    try:
        at = store.get(DB_ERROR_AT)
    except Unavailable:
        return False
    return at is not None and now - float(at) <= seconds


def record_response(store: Store, status: str) -> None:
    """One provider answer: "202", "429", "500", "lost", "refused", "outbox", ..."""
    _safe_add(store, {f"responses:{status}": 1})


def record_batch(store: Store, status: str, seconds: float) -> None:
    """An accepted batch: its answer and how long the request took, in one round trip to Redis."""
    items = {f"responses:{status}": 1, "batch_seconds:count": 1, "batch_seconds:sum": seconds}
    for bound in LATENCY_BUCKETS:
        if seconds <= bound:
            items[f"batch_seconds:le:{bound}"] = 1
    _safe_add(store, items)


# SendGrid's event types: anything else a signed post names is counted as `other`, so the label set stays bounded.
EVENT_TYPES = frozenset(
    {
        "processed",
        "dropped",
        "delivered",
        "deferred",
        "bounce",
        "blocked",
        "open",
        "machine_open",  # an open SendGrid marks sg_machine_open (mailer.events.store.kind)
        "click",
        "spamreport",
        "unsubscribe",
        "group_unsubscribe",
        "group_resubscribe",
    }
)


def record_events(store: Store, kinds: Counter) -> None:
    bounded: Counter = Counter()
    for kind, n in kinds.items():
        bounded[kind if kind in EVENT_TYPES else "other"] += n
    _safe_add(store, {f"events:{kind}": n for kind, n in bounded.items()})


HELD_LIMITS = ("address", "network", "hourly")  # mailer.web.ratelimit.confirmation_held_by


def record_held_confirmation(store: Store, limit: str) -> None:
    """A sign-up's confirmation mail a limit held back."""
    _safe_add(store, {f"held:{limit if limit in HELD_LIMITS else 'other'}": 1})
