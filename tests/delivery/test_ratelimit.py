import uuid

import pytest
import redis

from mailer import kv
from mailer.delivery import ratelimit
from mailer.delivery.ratelimit import RateLimiter

T0 = 1_800_000_000.25  # a quarter of a second into a window, on the hour


@pytest.fixture(params=["memory", "redis"])
def counters(request, monkeypatch):
    monkeypatch.setattr(ratelimit, "PREFIX", f"mailer:test:{uuid.uuid4().hex}")
    if request.param == "memory":
        return kv.MemoryStore()
    return kv.RedisStore(redis.Redis.from_url(request.getfixturevalue("redis_url")))


def test_requests_per_second(counters):
    limit = RateLimiter(counters, per_second=2, per_hour=0)
    assert limit.reserve(1000, now=T0) == 0
    assert limit.reserve(1000, now=T0 + 0.1) == 0
    assert limit.reserve(1000, now=T0 + 0.2) == pytest.approx(0.55)  # until the next second
    assert limit.reserve(1000, now=T0 + 1) == 0


def test_messages_per_hour_for_warming_up_a_domain(counters):
    limit = RateLimiter(counters, per_second=0, per_hour=5000)
    assert limit.reserve(3000, now=T0) == 0
    wait = limit.reserve(3000, now=T0 + 10)
    assert wait == pytest.approx(3600 - 10.25)
    assert limit.reserve(2000, now=T0 + 11) == 0  # a refused reservation took nothing


def test_workers_share_one_limit_through_redis(monkeypatch, redis_url):
    monkeypatch.setattr(ratelimit, "PREFIX", f"mailer:test:{uuid.uuid4().hex}")
    client = redis.Redis.from_url(redis_url)
    first = RateLimiter(kv.RedisStore(client), per_second=1, per_hour=0)
    second = RateLimiter(kv.RedisStore(redis.Redis.from_url(redis_url)), per_second=1, per_hour=0)
    assert first.reserve(10, now=T0) == 0
    assert second.reserve(10, now=T0 + 0.1) > 0


def test_no_limit_configured_never_waits(counters):
    limit = RateLimiter(counters, per_second=0, per_hour=0)
    assert all(limit.reserve(1000, now=T0) == 0 for _ in range(100))


def test_holding_says_how_long_the_limit_holds_without_taking(counters):
    """What a stalled send's reason asks: is the limit what holds it, and for how long."""
    hourly = RateLimiter(counters, per_second=0, per_hour=5000)
    assert hourly.holding(now=T0) == 0
    assert hourly.reserve(5000, now=T0) == 0
    assert hourly.holding(now=T0 + 10) == pytest.approx(3600 - 10.25)
    assert hourly.holding(now=T0 + 10) == pytest.approx(3600 - 10.25)  # asking took nothing
    per_second = RateLimiter(counters, per_second=1, per_hour=0)
    assert per_second.reserve(1, now=T0) == 0
    assert per_second.holding(now=T0 + 0.5) == pytest.approx(0.25)
    assert per_second.holding(now=T0 + 1) == 0
