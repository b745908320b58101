"""The one place that knows whether the broker is Redis and hands out a client for it.

Rate limits, shared metrics, queue depths and /readyz all use the broker's Redis; one cached client per
URL and timeout keeps one connection pool per process instead of one per call.

Besides redis://, rediss:// and unix://, a Redis watched by Sentinel:
`sentinel://[:password@]host:26379,host2:26379/mymaster[/db]`: the sentinels to ask, the name of the
master they watch, and the database number (0 by default). The password is the master's; the sentinels
are asked without one. Clients ask the sentinels for the master, and again once it fails over. Celery's
broker gets the same in kombu's form (celery_broker).
"""

from __future__ import annotations

from functools import lru_cache

import redis
from redis.sentinel import Sentinel

from mailer.config import SENTINEL, parse_sentinel

SCHEMES = ("redis://", "rediss://", "unix://", SENTINEL)


def is_redis(url: str) -> bool:
    return url.startswith(SCHEMES)


def celery_broker(url: str) -> tuple[str, dict]:
    """Celery's broker URL and transport options for `url`: kombu wants each sentinel as a URL of its
    own, joined by ';', the master's password on the first, and the master's name as an option."""
    if not url.startswith(SENTINEL):
        return url, {}
    parsed = parse_sentinel(url)
    auth = f":{parsed.password}@" if parsed.password else ""  # kombu reads it from the first only
    joined = ";".join(
        f"sentinel://{auth if i == 0 else ''}{host}:{port}/{parsed.db}"
        for i, (host, port) in enumerate(parsed.hosts)
    )
    return joined, {"master_name": parsed.master}


@lru_cache(maxsize=8)
def client(url: str, timeout: float = 2.0) -> redis.Redis:
    if url.startswith(SENTINEL):
        parsed = parse_sentinel(url)
        sentinel = Sentinel(
            list(parsed.hosts), socket_timeout=timeout, socket_connect_timeout=timeout
        )
        return sentinel.master_for(
            parsed.master,
            db=parsed.db,
            password=parsed.password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
