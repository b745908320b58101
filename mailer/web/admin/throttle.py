"""Login throttling: after a handful of wrong passwords, a login is refused (429 with Retry-After) for a
wait that doubles with each further failure; a right password clears the record.

Two records count failures. Per client address: five, then waits growing up to
MAILER_LOGIN_MAX_LOCKOUT_SECONDS. Per account, whoever asks: four times as many before any wait, and a wait
of at most a minute, so that guessing spread over many addresses is slowed, while an attacker can keep
an editor out of their own account for a minute at the most. In Redis when the broker is Redis (every
web process sees the same counts), in this process otherwise.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import redis

from mailer.config import Settings
from mailer.redis_client import client, is_redis

log = logging.getLogger(__name__)
ACCOUNT_FACTOR = 4  # an account's record allows this many times the client's failures before a wait
ACCOUNT_MAX_WAIT = 60.0
FORGET_AFTER = 24 * 3600  # a record with no new failure for this long is dropped


@dataclass(frozen=True)
class Rule:
    free_failures: int
    max_wait: float

    def wait(self, failures: int) -> float:
        """Seconds to wait after `failures` failures in a row: 0, then 1, 2, 4, ... capped."""
        over = failures - self.free_failures
        return 0.0 if over < 0 else min(self.max_wait, 2.0**over)


class MemoryStore:
    def __init__(self):
        self._records: dict[
            str, tuple[int, float, float]
        ] = {}  # key -> (failures, locked until, last)
        self._lock = threading.Lock()

    def locked_until(self, key: str) -> float:
        with self._lock:
            return self._records.get(key, (0, 0.0, 0.0))[1]

    def fail(self, key: str, rule: Rule, now: float) -> None:
        with self._lock:
            failures, _, last = self._records.get(key, (0, 0.0, now))
            failures = 1 if now - last > FORGET_AFTER else failures + 1
            self._records[key] = (failures, now + rule.wait(failures), now)

    def clear(self, key: str) -> None:
        with self._lock:
            self._records.pop(key, None)


class RedisStore:
    PREFIX = "mailer:login"

    def __init__(self, redis_client: redis.Redis):
        self.redis = redis_client

    def locked_until(self, key: str) -> float:
        return float(self.redis.hget(f"{self.PREFIX}:{key}", "until") or 0.0)

    def fail(self, key: str, rule: Rule, now: float) -> None:
        name = f"{self.PREFIX}:{key}"
        failures = self.redis.hincrby(name, "failures", 1)
        pipe = self.redis.pipeline()
        pipe.hset(name, "until", now + rule.wait(failures))
        pipe.expire(name, FORGET_AFTER)
        pipe.execute()

    def clear(self, key: str) -> None:
        self.redis.delete(f"{self.PREFIX}:{key}")


class LoginThrottle:
    def __init__(self, settings: Settings, store=None, clock=time.time):
        self.client_rule = Rule(
            settings.login_max_failures, float(settings.login_max_lockout_seconds)
        )
        self.account_rule = Rule(
            settings.login_max_failures * ACCOUNT_FACTOR,
            min(ACCOUNT_MAX_WAIT, float(settings.login_max_lockout_seconds)),
        )
        self.store = store or MemoryStore()
        self.fallback = MemoryStore()
        self.clock = clock

    def _keys(self, name: str, client_key: str) -> list[tuple[str, Rule]]:
        return [
            (f"client:{client_key}", self.client_rule),
            (f"account:{name.strip().lower()[:100]}", self.account_rule),
        ]

    def _do(self, action):
        try:
            return action(self.store)
        except redis.RedisError as exc:  # the broker down must not open the door, nor shut it
            log.warning(
                "login throttle store unavailable (%s); counting in this process",
                type(exc).__name__,
            )
            return action(self.fallback)

    def retry_after(self, name: str, client_key: str) -> int:
        """Seconds before this client may try this account again (0: now)."""
        now = self.clock()
        until = max(
            self._do(lambda s, key=key: s.locked_until(key))
            for key, _ in self._keys(name, client_key)
        )
        return max(0, int(until - now + 0.999))

    def failed(self, name: str, client_key: str) -> None:
        now = self.clock()
        for key, rule in self._keys(name, client_key):
            self._do(lambda s, key=key, rule=rule: s.fail(key, rule, now))

    def succeeded(self, name: str, client_key: str) -> None:
        for key, _ in self._keys(name, client_key):
            self._do(lambda s, key=key: s.clear(key))


def from_settings(settings: Settings) -> LoginThrottle:
    store = (
        RedisStore(client(settings.broker_url, timeout=0.5))
        if is_redis(settings.broker_url)
        else None
    )
    return LoginThrottle(settings, store)
