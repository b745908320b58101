"""Sign-up rate limits: the token bucket, in-process and in Redis."""

import uuid

import pytest
import redis

from mailer.web.ratelimit import Limit, MemoryLimiter, RedisLimiter, client_key, from_settings, take

LIMIT = Limit(burst=3, per_hour=3600)  # then one a second


def test_a_bucket_allows_a_burst_then_refills_at_its_rate():
    tokens, at = 3.0, 0.0
    allowed = []
    for _ in range(4):
        decision, tokens = take(tokens, at, 0.0, LIMIT)
        allowed.append(decision.allowed)
    assert allowed == [True, True, True, False] and decision.retry_after == 1
    decision, tokens = take(tokens, 0.0, 1.0, LIMIT)
    assert decision.allowed
    decision, _ = take(0.0, 0.0, 10_000.0, LIMIT)
    assert decision.allowed  # never more than the burst, but a long wait refills it


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_memory_limiter_keeps_one_bucket_per_key():
    clock = Clock()
    limiter = MemoryLimiter(clock)
    assert [limiter.hit("signup", "a", LIMIT).allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert limiter.hit("signup", "b", LIMIT).allowed  # another client
    assert limiter.hit("other", "a", LIMIT).allowed  # another limit
    clock.now += 1
    assert limiter.hit("signup", "a", LIMIT).allowed


def test_memory_limiter_forgets_full_buckets_when_it_grows(monkeypatch):
    clock = Clock()
    limiter = MemoryLimiter(clock)
    monkeypatch.setattr(MemoryLimiter, "MAX_KEYS", 10)
    for i in range(10):
        limiter.hit("signup", str(i), LIMIT)
    clock.now += 60
    limiter.hit("signup", "new", LIMIT)
    assert len(limiter._buckets) == 1


def test_clients_are_keyed_by_ipv4_address_or_ipv6_64():
    assert client_key("203.0.113.7") == "203.0.113.7"
    assert (
        client_key("2001:db8:1:2:aaaa::1")
        == client_key("2001:db8:1:2:bbbb::2")
        == "2001:db8:1:2::/64"
    )
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_key(None) == "unknown" and client_key("testclient") == "testclient"


@pytest.fixture
def redis_client(redis_url):
    return redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)


def test_redis_limiter_shares_buckets_between_processes(redis_client):
    clock = Clock()
    key = uuid.uuid4().hex
    one, two = RedisLimiter(redis_client, clock), RedisLimiter(redis_client, clock)
    assert [one.hit("signup", key, LIMIT).allowed for _ in range(2)] == [True, True]
    assert two.hit("signup", key, LIMIT).allowed
    refused = one.hit("signup", key, LIMIT)
    assert not refused.allowed and refused.retry_after == 1
    clock.now += 1
    assert two.hit("signup", key, LIMIT).allowed
    assert (
        0 < redis_client.ttl(f"{RedisLimiter.PREFIX}:signup:{key}") <= 4
    )  # forgotten once full again


def test_redis_limiter_falls_back_to_the_process_when_redis_is_down(redis_client):
    clock = Clock()
    limiter = RedisLimiter.from_url("redis://127.0.0.1:1/0")  # nothing listens there
    limiter.clock, limiter.fallback = clock, MemoryLimiter(clock)
    assert [limiter.hit("signup", "x", LIMIT).allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    limiter.client, limiter._script = redis_client, redis_client.register_script("return {1, '0'}")
    assert not limiter.hit("signup", "x", LIMIT).allowed  # still pausing: Redis is not asked
    clock.now += RedisLimiter.PAUSE_AFTER_ERROR
    assert limiter.hit("signup", "x", LIMIT).allowed  # asked again after the pause


def test_the_broker_setting_chooses_redis(settings, redis_url):
    assert isinstance(from_settings(settings), MemoryLimiter)
    assert isinstance(
        from_settings(settings.model_copy(update={"broker_url": redis_url})), RedisLimiter
    )
