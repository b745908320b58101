"""What the broker holds that more than Celery reads: the queue names, what a broker that is down
raises, beat's last tick and the workers' heartbeats. Light to import (no Celery app): `ops status`
and /metrics read these and nothing else of Celery's."""

from __future__ import annotations

import json

from kombu.exceptions import KombuError
from redis.exceptions import RedisError

# What a publish raises when the broker cannot be reached (a caller leaves the work for beat's sweep).
BROKER_DOWN = (KombuError, RedisError, OSError)
BEAT_TICK_KEY = "mailer:beat:last_tick"  # epoch seconds of beat's latest publish
# `mail`: transactional mail (a sign-up's confirmation), apart from `send` so that it is never queued
# behind a digest's batches; the sending workers take it first whenever a slot frees (docs/operations.md).
QUEUES = ("ingest", "assemble", "mail", "send", "events")

# Each worker says it is alive, what it consumes and what it runs, in one Redis hash, every few
# seconds: `ops status` and /metrics read it in one round trip instead of a broadcast that waits for
# answers (mailer.ops.status.workers asks the workers only when no heartbeat is fresh).
HEARTBEATS_KEY = "mailer:workers"
HEARTBEAT_SECONDS = 5.0
HEARTBEAT_FRESH = 3 * HEARTBEAT_SECONDS  # older than this, a worker is taken for gone


def beat_heart(redis_client, name: str, queues: list[str], active: list[dict], now: float) -> None:
    redis_client.hset(
        HEARTBEATS_KEY,
        name,
        json.dumps({"name": name, "queues": sorted(queues), "active": active, "at": now}),
    )


def heartbeats(redis_client, now: float) -> list[dict]:
    """The workers whose heartbeat is fresh, by name; those gone quiet are forgotten."""
    found, stale = [], []
    for field, raw in redis_client.hgetall(HEARTBEATS_KEY).items():
        try:
            beat = json.loads(raw)
        except ValueError:
            beat = {}
        if now - float(beat.get("at", 0)) <= HEARTBEAT_FRESH:
            found.append({k: beat[k] for k in ("name", "queues", "active")})
        else:
            stale.append(field)
    if stale:
        redis_client.hdel(HEARTBEATS_KEY, *stale)
    return sorted(found, key=lambda w: w["name"])
