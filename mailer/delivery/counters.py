"""Counters every worker adds to and the web app's /metrics reads: in Redis when a broker is set (workers
run on other hosts), in this process otherwise."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from functools import lru_cache

import redis

from mailer.config import get_settings
from mailer.redis_client import client, is_redis

KEY = "mailer:metrics"
# upper bounds (seconds) of the batch latency histogram
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _Memory:
    def __init__(self):
        self.lock, self.values = threading.Lock(), Counter()

    def incr(self, items: dict[str, float]) -> None:
        with self.lock:
            self.values.update(items)

    def read(self) -> dict[str, float]:
        with self.lock:
            return dict(self.values)


class _Redis:
    def __init__(self, client: redis.Redis):
        self.client = client

    def incr(self, items: dict[str, float]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for field, amount in items.items():
            pipe.hincrbyfloat(KEY, field, amount)
        pipe.execute()

    def read(self) -> dict[str, float]:
        # redis' stubs say bytes | str; a client without decode_responses gives bytes
        return {k.decode(): float(v) for k, v in self.client.hgetall(KEY).items()}  # type: ignore[union-attr]


@lru_cache(maxsize=4)
def _store(broker_url: str):
    if is_redis(broker_url):
        return _Redis(client(broker_url))
    return _Memory()


def store():
    return _store(get_settings().broker_url)


def _safe_incr(items: dict[str, float]) -> None:
    with contextlib.suppress(redis.RedisError):  # metrics must never stop a send
        store().incr(items)


def record_response(status: str) -> None:
    """One provider answer: "202", "429", "500", "lost", "refused", "outbox", ..."""
    _safe_incr({f"responses:{status}": 1})


def record_batch(status: str, seconds: float) -> None:
    """An accepted batch: its answer and how long the request took, in one round trip to Redis."""
    items = {f"responses:{status}": 1, "batch_seconds:count": 1, "batch_seconds:sum": seconds}
    for bound in LATENCY_BUCKETS:
        if seconds <= bound:
            items[f"batch_seconds:le:{bound}"] = 1
    _safe_incr(items)


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
        "click",
        "spamreport",
        "unsubscribe",
        "group_unsubscribe",
        "group_resubscribe",
    }
)


def record_events(kinds: Counter) -> None:
    bounded: Counter = Counter()
    for kind, n in kinds.items():
        bounded[kind if kind in EVENT_TYPES else "other"] += n
    _safe_incr({f"events:{kind}": n for kind, n in bounded.items()})
