"""The one place that knows whether the broker is Redis and hands out a client for it.

Rate limits, shared metrics, queue depths and /readyz all use the broker's Redis; one cached client per
URL and timeout keeps one connection pool per process instead of one per call.
"""

from __future__ import annotations

from functools import lru_cache

import redis

SCHEMES = ("redis://", "rediss://", "unix://")


def is_redis(url: str) -> bool:
    return url.startswith(SCHEMES)


@lru_cache(maxsize=8)
def client(url: str, timeout: float = 2.0) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
