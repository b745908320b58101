"""The key-value store's contract, held by both its memory and its Redis implementation."""

import uuid

import pytest
import redis

from mailer import kv


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        return kv.MemoryStore()
    return kv.RedisStore(redis.Redis.from_url(request.getfixturevalue("redis_url")))


@pytest.fixture
def key():
    return f"mailer:test:{uuid.uuid4().hex}"  # keys of this test only


def test_incr_adds_and_returns_the_sum(store, key):
    assert store.incr(key) == 1
    assert store.incr(key, 5, ttl=60) == 6
    assert store.incr(key, -6) == 0
    assert store.get(key) == "0"


def test_values_are_set_read_and_deleted(store, key):
    assert store.get(key) is None
    store.set(key, "1.5", ttl=60)
    store.set(f"{key}:other", "x")
    assert store.get(key) == "1.5"
    store.delete(key, f"{key}:other", f"{key}:never")
    assert store.get(key) is None and store.get(f"{key}:other") is None


def test_counts_under_one_key_add_up(store, key):
    assert store.counts(key) == {}
    store.add(key, {"a": 1, "b": 0.25})
    store.add(key, {"a": 2})
    assert store.counts(key) == {"a": 3.0, "b": 0.25}


def test_a_bucket_allows_a_burst_then_refills_at_its_rate(store, key):
    taken = [store.take(key, 3.0, 1.0, 100.0)[0] for _ in range(4)]
    assert taken == [True, True, True, False]
    assert store.take(key, 3.0, 1.0, 100.5) == (False, pytest.approx(0.5))
    assert store.take(key, 3.0, 1.0, 101.0)[0]
    assert store.take(key, 3.0, 1.0, 10_000.0) == (
        True,
        pytest.approx(2.0),
    )  # never above the burst
    assert store.take(f"{key}:other", 3.0, 1.0, 100.0)[0]  # another bucket


def test_keys_with_a_lifetime_expire_in_memory():
    clock = Clock()
    store = kv.MemoryStore(clock)
    store.incr("window", 1, ttl=2)
    store.set("record", "x", ttl=10)
    store.incr("window", 1)  # an increment without a ttl keeps the key's
    clock.now += 2
    assert store.get("window") is None and store.get("record") == "x"
    assert store.incr("window", 1, ttl=2) == 1
    clock.now += 2
    assert store.incr("window") == 1 and store.incr("window") == 2  # gone, then for good


def test_keys_with_a_lifetime_expire_in_redis(redis_url, key):
    client = redis.Redis.from_url(redis_url)
    store = kv.RedisStore(client)
    store.incr(key, 1, ttl=30)
    store.take(f"{key}:bucket", 3.0, 1.0, 100.0)
    assert 0 < client.ttl(key) <= 30
    assert 0 < client.ttl(f"{key}:bucket") <= 4  # forgotten once full again


def test_memory_forgets_expired_keys_when_it_grows(monkeypatch):
    clock = Clock()
    store = kv.MemoryStore(clock)
    monkeypatch.setattr(kv.MemoryStore, "MAX_KEYS", 10)
    for i in range(10):
        store.take(str(i), 3.0, 1.0, clock.now)
    clock.now += 60
    store.take("new", 3.0, 1.0, clock.now)
    assert len(store._data) == 1


def test_redis_down_is_unavailable_and_the_fallback_counts_in_the_process():
    clock = Clock()
    down = kv.open_store("redis://127.0.0.1:1/0", timeout=0.2)  # nothing listens there
    with pytest.raises(kv.Unavailable):
        down.incr("x")
    store = kv.Fallback(down, clock)
    assert [store.incr("x") for _ in range(3)] == [1, 2, 3]  # counted here, not lost
    store.store = kv.MemoryStore(clock)  # the store answers again
    assert store.incr("x") == 4  # still pausing: it is not asked
    clock.now += kv.Fallback.PAUSE
    assert store.incr("x") == 1  # asked again after the pause


def test_the_broker_url_chooses_the_store(redis_url):
    assert isinstance(kv.open_store(""), kv.MemoryStore)
    assert isinstance(kv.open_store("memory://"), kv.MemoryStore)
    assert isinstance(kv.open_store(redis_url), kv.RedisStore)
