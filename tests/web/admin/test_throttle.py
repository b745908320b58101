"""The login throttle's rules: waits that grow, a right password that clears, an account that a stranger
can keep closed for a minute at most, and Redis shared between web processes."""

import uuid

import pytest
import redis

from mailer import kv
from mailer.config import Settings
from mailer.web.admin.throttle import ACCOUNT_MAX_WAIT, PREFIX, LoginThrottle, Rule


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _throttle(store=None, clock=None):
    return LoginThrottle(
        Settings(_env_file=None, login_max_failures=3, login_max_lockout_seconds=900),
        store or kv.MemoryStore(),
        clock or Clock(),
    )


def test_waits_double_after_the_free_failures_and_stop_at_the_cap():
    rule = Rule(free_failures=3, max_wait=10)
    assert [rule.wait(n) for n in range(1, 9)] == [0, 0, 1, 2, 4, 8, 10, 10]


def test_a_client_waits_more_after_each_failure_and_a_success_clears_it():
    clock = Clock()
    throttle = _throttle(clock=clock)
    for _ in range(3):
        throttle.failed("mina", "203.0.113.5")
    assert throttle.retry_after("mina", "203.0.113.5") == 1
    clock.now += 1
    throttle.failed("mina", "203.0.113.5")
    assert throttle.retry_after("mina", "203.0.113.5") == 2
    throttle.succeeded("mina", "203.0.113.5")
    assert throttle.retry_after("mina", "203.0.113.5") == 0


def test_guessing_from_many_addresses_is_slowed_but_keeps_the_editor_out_a_minute_at_most():
    clock = Clock()
    throttle = _throttle(clock=clock)
    for i in range(200):  # every guess from a new address: no client record ever waits
        throttle.failed("mina", f"198.51.100.{i % 250}/{i}")
    assert 0 < throttle.retry_after("mina", "192.0.2.1") <= ACCOUNT_MAX_WAIT
    clock.now += ACCOUNT_MAX_WAIT
    assert throttle.retry_after("mina", "192.0.2.1") == 0  # the editor's own try goes through


def test_web_processes_share_the_count_through_redis(redis_url):
    client = redis.Redis.from_url(redis_url)
    name, address, clock = uuid.uuid4().hex, uuid.uuid4().hex, Clock()  # records of this run only
    one, two = _throttle(kv.RedisStore(client), clock), _throttle(kv.RedisStore(client), clock)
    for _ in range(2):
        one.failed(name, address)
    two.failed(name, address)
    assert one.retry_after(name, address) == 1


def test_redis_down_counts_in_the_process_instead():
    clock = Clock()
    down = kv.RedisStore(redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2))
    throttle = _throttle(down, clock)
    for _ in range(3):
        throttle.failed("mina", "203.0.113.7")
    assert throttle.retry_after("mina", "203.0.113.7") == 1
    assert throttle.store.local.get(f"{PREFIX}:client:203.0.113.7:until") == repr(
        clock.now + 1
    )  # counted here, not lost


@pytest.mark.parametrize("name", ["Mina", " mina "])
def test_an_account_is_one_record_whatever_its_case_or_spaces(name):
    throttle = _throttle()
    for _ in range(12):
        throttle.failed(name, f"client-{_}")
    assert throttle.retry_after("mina", "someone-else") > 0
