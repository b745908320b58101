"""A send rate shared by every worker: requests per second and messages per hour, in fixed windows.

Counted in the key-value store (mailer.kv): in Redis when a broker is configured, so every worker sees
the same counts, in memory otherwise.
"""

from __future__ import annotations

import math
import time

from mailer.config import Settings
from mailer.kv import Store

PREFIX = "mailer:rate"


class RateLimiter:
    def __init__(self, store: Store, per_second: float, per_hour: int):
        self.store, self.per_second, self.per_hour = store, per_second, per_hour

    def reserve(self, messages: int, now: float | None = None) -> float:
        """Take one request and `messages` messages from the current windows.

        Returns 0 when the send may go now, else the seconds until a window has room (and takes nothing).
        """
        now = time.time() if now is None else now
        # fractional rates (0.5/s) use a window long enough to hold one request
        window = max(1.0, 1.0 / self.per_second) if self.per_second > 0 else 1.0
        slot = math.floor(now / window)
        req_key, req_ttl = f"{PREFIX}:req:{window:g}:{slot}", int(window) + 2
        if self.per_second > 0 and self.store.incr(req_key, 1, req_ttl) > max(
            1, round(self.per_second * window)
        ):
            self.store.incr(req_key, -1, req_ttl)
            return (slot + 1) * window - now
        if self.per_hour > 0:
            hour = math.floor(now / 3600)
            key = f"{PREFIX}:msg:{hour}"
            if self.store.incr(key, messages, 3700) > self.per_hour:
                self.store.incr(key, -messages, 3700)
                if self.per_second > 0:  # give the request slot back too
                    self.store.incr(req_key, -1, req_ttl)
                return (hour + 1) * 3600 - now
        return 0.0

    def holding(self, now: float | None = None) -> float:
        """Seconds until a window has room for one more request, taking nothing (0: it would go now):
        what a stalled send's reason asks."""
        now = time.time() if now is None else now
        waits = [0.0]
        if self.per_second > 0:
            window = max(1.0, 1.0 / self.per_second)
            slot = math.floor(now / window)
            used = int(self.store.get(f"{PREFIX}:req:{window:g}:{slot}") or 0)
            if used >= max(1, round(self.per_second * window)):
                waits.append((slot + 1) * window - now)
        if self.per_hour > 0:
            hour = math.floor(now / 3600)
            if int(self.store.get(f"{PREFIX}:msg:{hour}") or 0) >= self.per_hour:
                waits.append((hour + 1) * 3600 - now)
        return max(waits)


def limiter(settings: Settings, store: Store) -> RateLimiter:
    return RateLimiter(store, settings.send_rate_per_second, settings.send_rate_per_hour)
