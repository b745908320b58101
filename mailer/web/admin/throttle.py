"""Login throttling: after a handful of wrong passwords, a login is refused (429 with Retry-After) for a
wait that doubles with each further failure; a right password clears the record.

Two records count failures. Per client address: five, then waits growing up to
MAILER_LOGIN_MAX_LOCKOUT_SECONDS. Per account, whoever asks: four times as many before any wait, and a wait
of at most a minute, so that guessing spread over many addresses is slowed, while an attacker can keep
an editor out of their own account for a minute at the most. In Redis when the broker is Redis (every
web process sees the same counts), in this process otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mailer.config import Settings
from mailer.kv import Fallback, Store

PREFIX = "mailer:login"
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


class LoginThrottle:
    """A record is two keys of the store: the failures in a row, and until when a login waits."""

    def __init__(self, settings: Settings, store: Store, clock: Callable[[], float] = time.time):
        self.client_rule = Rule(
            settings.login_max_failures, float(settings.login_max_lockout_seconds)
        )
        self.account_rule = Rule(
            settings.login_max_failures * ACCOUNT_FACTOR,
            min(ACCOUNT_MAX_WAIT, float(settings.login_max_lockout_seconds)),
        )
        # the broker down must not open the door, nor shut it
        self.store = Fallback(store, clock)
        self.clock = clock

    def _keys(self, name: str, client_key: str) -> list[tuple[str, Rule]]:
        return [
            (f"{PREFIX}:client:{client_key}", self.client_rule),
            (f"{PREFIX}:account:{name.strip().lower()[:100]}", self.account_rule),
        ]

    def retry_after(self, name: str, client_key: str) -> int:
        """Seconds before this client may try this account again (0: now)."""
        now = self.clock()
        until = max(
            float(self.store.get(f"{key}:until") or 0.0) for key, _ in self._keys(name, client_key)
        )
        return max(0, int(until - now + 0.999))

    def failed(self, name: str, client_key: str) -> None:
        now = self.clock()
        for key, rule in self._keys(name, client_key):
            failures = self.store.incr(f"{key}:failures", 1, FORGET_AFTER)
            self.store.set(f"{key}:until", repr(now + rule.wait(failures)), FORGET_AFTER)

    def succeeded(self, name: str, client_key: str) -> None:
        for key, _ in self._keys(name, client_key):
            self.store.delete(f"{key}:failures", f"{key}:until")
