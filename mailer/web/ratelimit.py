"""Rate limits on sign-ups: token buckets per client IP, and per address for confirmation mails.

In-process when MAILER_BROKER_URL is empty (the embedded default runs one web process); in Redis
when it is set, so every web process draws from the same buckets. If Redis stops answering, the
process falls back to its own buckets rather than refusing every sign-up or letting all through.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from dataclasses import dataclass

from mailer.redis_client import is_redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    burst: int  # requests allowed at once
    per_hour: float  # then this many an hour

    @property
    def rate(self) -> float:  # tokens a second
        return self.per_hour / 3600.0


SIGNUPS_PER_IP = Limit(burst=10, per_hour=20)
# Sign-ups for one address, whoever asks: caps the confirmation mails a stranger can aim at someone.
MAILS_PER_ADDRESS = Limit(burst=3, per_hour=4)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # seconds until one more is allowed


def take(tokens: float, at: float, now: float, limit: Limit) -> tuple[Decision, float]:
    """One request against a bucket that held `tokens` at time `at`. Pure: returns the new token count."""
    tokens = min(float(limit.burst), tokens + max(0.0, now - at) * limit.rate)
    if tokens >= 1.0:
        return Decision(True), tokens - 1.0
    return Decision(False, max(1, math.ceil((1.0 - tokens) / limit.rate))), tokens


def client_key(ip: str | None) -> str:
    """An IPv6 client owns a whole /64, so it is limited as one; IPv4 by address."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class MemoryLimiter:
    MAX_KEYS = 100_000  # past this, full buckets are forgotten (they are the same as new ones)

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()  # sync routes run in a thread pool

    def hit(self, name: str, key: str, limit: Limit) -> Decision:
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get((name, key), (float(limit.burst), now))
            decision, left = take(tokens, at, now, limit)
            self._buckets[(name, key)] = (left, now)
            if len(self._buckets) > self.MAX_KEYS:
                self._forget_full(now, limit)
        return decision

    def _forget_full(self, now: float, limit: Limit) -> None:
        full_after = limit.burst / limit.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}


# Atomic in Redis: read, refill, take, write. Keys expire once the bucket would be full again.
_TAKE = """
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {allowed, tostring(tokens)}
"""


class RedisLimiter:
    PREFIX = "mailer:ratelimit"
    PAUSE_AFTER_ERROR = 30.0  # seconds of in-process limiting before Redis is tried again

    def __init__(self, client, clock=time.time, fallback: MemoryLimiter | None = None):
        self.client = client
        self.clock = clock
        self.fallback = fallback or MemoryLimiter()
        self._script = client.register_script(_TAKE)
        self._down_until = 0.0

    @classmethod
    def from_url(cls, url: str) -> RedisLimiter:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # A sign-up must not wait on retries: one quick try, then this process's own buckets.
        return cls(
            redis.Redis.from_url(
                url, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
            )
        )

    def hit(self, name: str, key: str, limit: Limit) -> Decision:
        import redis

        now = self.clock()
        if now < self._down_until:
            return self.fallback.hit(name, key, limit)
        try:
            allowed, tokens = self._script(
                keys=[f"{self.PREFIX}:{name}:{key}"], args=[limit.burst, limit.rate, now]
            )
        except redis.RedisError as exc:
            log.warning(
                "rate limit store unavailable (%s); limiting in this process", type(exc).__name__
            )
            self._down_until = now + self.PAUSE_AFTER_ERROR
            return self.fallback.hit(name, key, limit)
        if int(allowed):
            return Decision(True)
        return Decision(False, max(1, math.ceil((1.0 - float(tokens)) / limit.rate)))


def from_settings(settings) -> MemoryLimiter | RedisLimiter:
    return (
        RedisLimiter.from_url(settings.broker_url)
        if is_redis(settings.broker_url)
        else MemoryLimiter()
    )
