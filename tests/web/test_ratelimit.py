"""Sign-up rate limits: token buckets, in-process and in Redis (the buckets themselves: tests/test_kv.py)."""

import uuid

import pytest
import redis

from mailer import kv
from mailer.web.ratelimit import Limit, Limiter, client_key

LIMIT = Limit(burst=3, per_hour=3600)  # then one a second


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_limiter_keeps_one_bucket_per_key_and_limit():
    clock = Clock()
    limiter = Limiter(kv.MemoryStore(clock), clock)
    assert [limiter.hit("signup", "a", LIMIT).allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert limiter.hit("signup", "a", LIMIT).retry_after == 1
    assert limiter.hit("signup", "b", LIMIT).allowed  # another client
    assert limiter.hit("other", "a", LIMIT).allowed  # another limit
    clock.now += 1
    assert limiter.hit("signup", "a", LIMIT).allowed


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
    one, two = (Limiter(kv.RedisStore(redis_client), clock) for _ in range(2))
    assert [one.hit("signup", key, LIMIT).allowed for _ in range(2)] == [True, True]
    assert two.hit("signup", key, LIMIT).allowed
    refused = one.hit("signup", key, LIMIT)
    assert not refused.allowed and refused.retry_after == 1
    clock.now += 1
    assert two.hit("signup", key, LIMIT).allowed
    assert 0 < redis_client.ttl(f"{Limiter.PREFIX}:signup:{key}") <= 4  # forgotten once full again


def test_redis_limiter_falls_back_to_the_process_when_redis_is_down(redis_client):
    clock, key = Clock(), uuid.uuid4().hex
    limiter = Limiter(kv.open_store("redis://127.0.0.1:1/0"), clock)  # nothing listens there
    assert [limiter.hit("signup", key, LIMIT).allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    limiter.store.store = kv.RedisStore(redis_client)  # Redis answers again
    assert not limiter.hit("signup", key, LIMIT).allowed  # still pausing: Redis is not asked
    assert not redis_client.exists(f"{Limiter.PREFIX}:signup:{key}")
    clock.now += kv.Fallback.PAUSE
    assert limiter.hit("signup", key, LIMIT).allowed
    assert redis_client.exists(f"{Limiter.PREFIX}:signup:{key}")  # asked again after the pause


def test_the_broker_setting_chooses_redis_and_the_app_limits_through_the_runtimes_store(
    runtime, redis_url
):
    from mailer.web.app import create_app

    assert isinstance(kv.open_store(""), kv.MemoryStore)
    assert isinstance(kv.open_store(redis_url), kv.RedisStore)
    app = create_app(runtime)
    assert app.state.rate_limiter.store.store is runtime.kv
    assert app.state.login_throttle.store.store is runtime.kv
