"""Rate limits on sign-ups: token buckets per client IP; for confirmation mails, per address, per
network and in all (MAILER_CONFIRMATIONS_PER_NETWORK_PER_HOUR, MAILER_CONFIRMATIONS_PER_HOUR).

In the key-value store (mailer.kv): in-process when MAILER_BROKER_URL is empty (the embedded default
runs one web process); in Redis when it is set, so every web process draws from the same buckets.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from mailer.config import Settings
from mailer.kv import Fallback, Store


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


def network_key(ip: str | None) -> str:
    """The network one party most likely holds whole: an IPv4 /24, an IPv6 /48 (a site's usual
    allocation, 65,536 /64s: the per-client limit alone let one site sign up a stranger from each)."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 48 if address.version == 6 else 24
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


class Limiter:
    """Token buckets in the key-value store: when it does not answer, this process's own buckets for a
    while rather than refusing every sign-up or letting all through."""

    PREFIX = "mailer:ratelimit"

    def __init__(self, store: Store, clock: Callable[[], float] = time.time):
        self.store, self.clock = Fallback(store, clock), clock

    def hit(self, name: str, key: str, limit: Limit) -> Decision:
        taken, tokens = self.store.take(
            f"{self.PREFIX}:{name}:{key}", float(limit.burst), limit.rate, self.clock()
        )
        if taken:
            return Decision(True)
        return Decision(False, max(1, math.ceil((1.0 - tokens) / limit.rate)))


def confirmation_held_by(
    limiter: Limiter, settings: Settings, address_hash: str, ip: str | None
) -> str | None:
    """Which limit keeps a sign-up's confirmation mail from going ("address", "network", "hourly"), or
    None. A token is taken from all three buckets every time, whatever the answer or the address: the
    request's work must not depend on who is asking for whom (tests/web/test_signup_timing.py)."""
    per_network = settings.confirmations_per_network_per_hour
    per_hour = settings.confirmations_per_hour
    decisions = (
        ("address", limiter.hit("signup-address", address_hash, MAILS_PER_ADDRESS)),
        (
            "network",
            limiter.hit("signup-network", network_key(ip), Limit(per_network, per_network)),
        ),
        ("hourly", limiter.hit("signup-all", "all", Limit(per_hour, per_hour))),
    )
    return next((name for name, decision in decisions if not decision.allowed), None)
