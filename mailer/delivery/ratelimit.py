"""A send rate shared by every worker: requests per second and messages per hour, in fixed windows.

In Redis when a broker is configured (every worker sees the same counters), in memory otherwise.
"""

from __future__ import annotations

import math
import threading
import time
from functools import lru_cache

import redis

from mailer.config import Settings
from mailer.redis_client import client, is_redis

PREFIX = "mailer:rate"


class _MemoryCounters:
    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def add(self, key: str, amount: int, ttl: int) -> int:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + amount
            return self._counts[key]


class _RedisCounters:
    def __init__(self, client: redis.Redis):
        self.client = client

    def add(self, key: str, amount: int, ttl: int) -> int:
        pipe = self.client.pipeline()
        pipe.incrby(key, amount)
        pipe.expire(key, ttl)
        return int(pipe.execute()[0])


class RateLimiter:
    def __init__(self, counters, per_second: float, per_hour: int):
        self.counters, self.per_second, self.per_hour = counters, per_second, per_hour

    def reserve(self, messages: int, now: float | None = None) -> float:
        """Take one request and `messages` messages from the current windows.

        Returns 0 when the send may go now, else the seconds until a window has room (and takes nothing).
        """
        now = time.time() if now is None else now
        # fractional rates (0.5/s) use a window long enough to hold one request
        window = max(1.0, 1.0 / self.per_second) if self.per_second > 0 else 1.0
        slot = math.floor(now / window)
        req_key, req_ttl = f"{PREFIX}:req:{window:g}:{slot}", int(window) + 2
        if self.per_second > 0 and self.counters.add(req_key, 1, req_ttl) > max(
            1, round(self.per_second * window)
        ):
            self.counters.add(req_key, -1, req_ttl)
            return (slot + 1) * window - now
        if self.per_hour > 0:
            hour = math.floor(now / 3600)
            key = f"{PREFIX}:msg:{hour}"
            if self.counters.add(key, messages, 3700) > self.per_hour:
                self.counters.add(key, -messages, 3700)
                if self.per_second > 0:  # give the request slot back too
                    self.counters.add(req_key, -1, req_ttl)
                return (hour + 1) * 3600 - now
        return 0.0


@lru_cache(maxsize=4)
def _counters(broker_url: str):
    if is_redis(broker_url):
        return _RedisCounters(client(broker_url, timeout=5.0))
    return _MemoryCounters()


def limiter(settings: Settings) -> RateLimiter:
    return RateLimiter(
        _counters(settings.broker_url), settings.send_rate_per_second, settings.send_rate_per_hour
    )
