"""One key-value store for what processes share: counters with a lifetime, token buckets, named
counts. Redis when the broker is Redis (every web process and worker sees the same values), this
process's memory otherwise (the embedded set-up: one process). `open_store` chooses; users take the
store they are given.

What the store does not answer raises `Unavailable`; `Fallback` turns that into counting in the
process for a while, for users that must neither refuse everyone nor let everyone through.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import redis

from mailer.redis_client import client, is_redis

log = logging.getLogger(__name__)


class Unavailable(ConnectionError):
    """The store did not answer: Redis down, unreachable or too slow."""


class Store(Protocol):
    def incr(self, key: str, amount: int = 1, ttl: int | None = None) -> int:
        """Add to an integer (0 when absent) and return the sum; a `ttl` (seconds) restarts its life."""
        ...

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, ttl: int | None = None) -> None: ...

    def delete(self, *keys: str) -> None: ...

    def add(self, key: str, amounts: Mapping[str, float]) -> None:
        """Add to counts kept under one key, in one round trip; they never expire."""
        ...

    def counts(self, key: str) -> dict[str, float]: ...

    def drain(self, key: str) -> dict[str, float]:
        """The counts under `key`, removed in the same step: an amount added meanwhile is either in
        what is returned or left for the next drain, never both."""
        ...

    def take(self, key: str, burst: float, rate: float, now: float) -> tuple[bool, float]:
        """One token from a bucket of at most `burst` tokens refilled at `rate` a second (new buckets
        are full): whether one was taken, and the tokens left. A bucket is forgotten once it would be
        full again. `now` is the caller's clock, in seconds."""
        ...


def refill(tokens: float, at: float, now: float, burst: float, rate: float) -> tuple[bool, float]:
    """The token bucket's rule, for a bucket that held `tokens` at `at` (what the Lua script does)."""
    tokens = min(burst, tokens + max(0.0, now - at) * rate)
    if tokens >= 1.0:
        return True, tokens - 1.0
    return False, tokens


def _bucket_ttl(burst: float, rate: float) -> int:
    return math.ceil(burst / rate) + 1


class MemoryStore:
    """This process's store. Keys live until their ttl by `clock`; past MAX_KEYS, expired ones go."""

    MAX_KEYS = 100_000

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._data: dict[str, tuple[Any, float]] = {}  # key -> (value, expires at)
        self._lock = threading.Lock()  # sync routes run in a thread pool; workers in threads

    def _get(self, key: str, now: float) -> Any:
        entry = self._data.get(key)
        return None if entry is None or entry[1] <= now else entry[0]

    def _put(self, key: str, value: Any, ttl: float | None, now: float) -> None:
        self._data[key] = (value, math.inf if ttl is None else now + ttl)
        if len(self._data) > self.MAX_KEYS:
            self._data = {k: v for k, v in self._data.items() if v[1] > now}

    def incr(self, key: str, amount: int = 1, ttl: int | None = None) -> int:
        with self._lock:
            now = self.clock()
            value = (self._get(key, now) or 0) + amount
            self._put(key, value, ttl if ttl is not None else self._ttl_left(key, now), now)
            return value

    def _ttl_left(self, key: str, now: float) -> float | None:
        """What is left of a live key's lifetime; None for a key without one, or gone."""
        entry = self._data.get(key)
        return None if entry is None or entry[1] <= now or entry[1] == math.inf else entry[1] - now

    def get(self, key: str) -> str | None:
        with self._lock:
            value = self._get(key, self.clock())
            return None if value is None else str(value)

    def set(self, key: str, value: str, ttl: int | None = None) -> None:
        with self._lock:
            self._put(key, value, ttl, self.clock())

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def add(self, key: str, amounts: Mapping[str, float]) -> None:
        with self._lock:
            now = self.clock()
            counts = self._get(key, now)
            if counts is None:
                counts = Counter()
                self._put(key, counts, None, now)
            counts.update(amounts)

    def counts(self, key: str) -> dict[str, float]:
        with self._lock:
            return dict(self._get(key, self.clock()) or {})

    def drain(self, key: str) -> dict[str, float]:
        with self._lock:
            found = self._get(key, self.clock())
            self._data.pop(key, None)
            return dict(found or {})

    def take(self, key: str, burst: float, rate: float, now: float) -> tuple[bool, float]:
        with self._lock:
            tokens, at = self._get(key, self.clock()) or (burst, now)
            taken, left = refill(tokens, at, now, burst, rate)
            self._put(key, (left, now), _bucket_ttl(burst, rate), self.clock())
            return taken, left


# Atomic in Redis: read, refill, take, write; the key expires once the bucket would be full again.
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


@contextmanager
def _answering() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as exc:
        raise Unavailable(f"{type(exc).__name__}: {exc}") from exc


def _decoded(found: Mapping) -> dict[str, float]:
    return {(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in found.items()}


class RedisStore:
    """Redis, shared by every process on the broker. An increment and its expiry go in one
    MULTI/EXEC, a bucket's take in one Lua script: workers racing see each other's counts."""

    def __init__(self, redis_client: redis.Redis):
        self.redis = redis_client
        self._take = redis_client.register_script(_TAKE)

    def incr(self, key: str, amount: int = 1, ttl: int | None = None) -> int:
        with _answering():
            if ttl is None:
                return int(self.redis.incrby(key, amount))
            pipe = self.redis.pipeline()
            pipe.incrby(key, amount)
            pipe.expire(key, ttl)
            return int(pipe.execute()[0])

    def get(self, key: str) -> str | None:
        with _answering():
            value = self.redis.get(key)
        return None if value is None else value.decode() if isinstance(value, bytes) else str(value)

    def set(self, key: str, value: str, ttl: int | None = None) -> None:
        with _answering():
            self.redis.set(key, value, ex=ttl)

    def delete(self, *keys: str) -> None:
        with _answering():
            self.redis.delete(*keys)

    def add(self, key: str, amounts: Mapping[str, float]) -> None:
        with _answering():
            pipe = self.redis.pipeline(transaction=False)
            for field, amount in amounts.items():
                pipe.hincrbyfloat(key, field, amount)
            pipe.execute()

    def counts(self, key: str) -> dict[str, float]:
        with _answering():
            found = self.redis.hgetall(key)
        return _decoded(found)

    def drain(self, key: str) -> dict[str, float]:
        with _answering():
            pipe = self.redis.pipeline(transaction=True)  # MULTI/EXEC: no increment falls between
            pipe.hgetall(key)
            pipe.delete(key)
            found, _ = pipe.execute()
        return _decoded(found)

    def take(self, key: str, burst: float, rate: float, now: float) -> tuple[bool, float]:
        with _answering():
            allowed, tokens = self._take(keys=[key], args=[burst, rate, now])
        return bool(int(allowed)), float(tokens)


class Fallback:
    """A store that, when its own does not answer, counts in this process for PAUSE seconds before
    asking it again: a broker that is down must neither open the door nor shut it."""

    PAUSE = 30.0

    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic):
        self.store, self.clock = store, clock
        self.local = MemoryStore(clock)
        self._down_until = 0.0

    def _call(self, name: str, *args: Any) -> Any:
        if self.clock() >= self._down_until:
            try:
                return getattr(self.store, name)(*args)
            except Unavailable as exc:
                log.warning("key-value store unavailable (%s); counting in this process", exc)
                self._down_until = self.clock() + self.PAUSE
        return getattr(self.local, name)(*args)

    def incr(self, key: str, amount: int = 1, ttl: int | None = None) -> int:
        return self._call("incr", key, amount, ttl)

    def get(self, key: str) -> str | None:
        return self._call("get", key)

    def set(self, key: str, value: str, ttl: int | None = None) -> None:
        self._call("set", key, value, ttl)

    def delete(self, *keys: str) -> None:
        self._call("delete", *keys)

    def add(self, key: str, amounts: Mapping[str, float]) -> None:
        self._call("add", key, amounts)

    def counts(self, key: str) -> dict[str, float]:
        return self._call("counts", key)

    def drain(self, key: str) -> dict[str, float]:
        return self._call("drain", key)

    def take(self, key: str, burst: float, rate: float, now: float) -> tuple[bool, float]:
        return self._call("take", key, burst, rate, now)


def open_store(url: str, *, timeout: float = 2.0) -> Store:
    """The store for a broker URL: Redis for redis://, rediss://, unix:// and sentinel://, memory
    otherwise. Redis clients share one connection pool per URL and timeout in a process."""
    if is_redis(url):
        return RedisStore(client(url, timeout))
    return MemoryStore()
