"""Redis through Sentinel: a sentinel:// broker URL reaches the master a private redis-server --sentinel
watches, for the key-value store and for Celery's broker alike."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid

import pytest
import redis
from pydantic import ValidationError

from mailer.config import Settings, parse_sentinel
from mailer.redis_client import celery_broker, client, is_redis
from tests import broker


def test_a_sentinel_url_names_its_sentinels_master_and_database():
    parsed = parse_sentinel("sentinel://:s3cret@10.0.0.1:26379,[::1]:26380/mymaster/2")
    assert parsed.hosts == (("10.0.0.1", 26379), ("::1", 26380))
    assert (parsed.master, parsed.db, parsed.password) == ("mymaster", 2, "s3cret")
    assert parse_sentinel("sentinel://h:26379/m").db == 0
    assert is_redis("sentinel://h:26379/m")


@pytest.mark.parametrize(
    "url",
    [
        "sentinel://h:26379",  # no master
        "sentinel://h:26379/",
        "sentinel://h/mymaster",  # no port
        "sentinel://h:99999/mymaster",
        "sentinel://h:26379,/mymaster",
        "sentinel://h:26379/mymaster/zero",
        "sentinel://h:26379/mymaster/1/2",
    ],
)
def test_settings_refuse_a_sentinel_url_missing_a_part(url):
    with pytest.raises(ValidationError, match="MAILER_BROKER_URL"):
        Settings(_env_file=None, broker_url=url)


def test_celery_gets_each_sentinel_in_kombus_form_and_the_master_as_an_option():
    from mailer.celery_app import create_app

    assert celery_broker("sentinel://:pw@a:26379,b:26380/mymaster/3") == (
        "sentinel://:pw@a:26379/3;sentinel://b:26380/3",
        {"master_name": "mymaster"},
    )
    assert celery_broker("redis://127.0.0.1:6379/0") == ("redis://127.0.0.1:6379/0", {})
    conf = create_app(
        Settings(_env_file=None, broker_url="sentinel://a:26379,b:26380/mymaster")
    ).conf
    assert conf.broker_url == "sentinel://a:26379/0;sentinel://b:26380/0"
    assert conf.broker_transport_options["master_name"] == "mymaster"
    assert conf.broker_transport_options["visibility_timeout"] >= 3600


class SentinelServer:
    """redis-server --sentinel of the test's own, watching one master as `mymaster`."""

    def __init__(self, directory, master_port: int):
        self.dir, self.port = directory, broker.free_port()
        self.conf = directory / "sentinel.conf"
        self.conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {directory}\n"
            f"sentinel monitor mymaster 127.0.0.1 {master_port} 1\n"
            "sentinel down-after-milliseconds mymaster 2000\n"
        )
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", str(self.conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def wait_for_master(self, timeout: float = 15) -> None:
        sentinel = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if sentinel.sentinel_get_master_addr_by_name("mymaster"):
                    return
            except (redis.RedisError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"redis-server --sentinel on port {self.port} knows no master")

    def stop(self) -> None:
        broker.stop_process(self.proc)


@pytest.fixture
def sentinel_url(private_redis, tmp_path):
    """A sentinel:// URL (database 3) through a sentinel of the test's own to its own redis-server."""
    sentinel = SentinelServer(tmp_path, private_redis.port)
    try:
        sentinel.wait_for_master()
        yield f"sentinel://127.0.0.1:{sentinel.port}/mymaster/3"
    finally:
        sentinel.stop()


def test_the_key_value_store_works_through_sentinel(sentinel_url, private_redis):
    from mailer.kv import RedisStore, open_store
    from mailer.wiring import build_runtime

    store = open_store(sentinel_url)
    assert isinstance(store, RedisStore)
    key = f"mailer:test:{uuid.uuid4().hex}"
    assert store.incr(key, 2, ttl=60) == 2
    assert store.take(f"{key}:bucket", 2.0, 1.0, 100.0)[0]
    # on the master the sentinel named, in the database the URL named
    master = redis.Redis(host="127.0.0.1", port=private_redis.port, db=3)
    assert master.get(key) == b"2"
    runtime = build_runtime(Settings(_env_file=None, broker_url=sentinel_url))
    assert runtime.kv.get(key) == "2"
    assert client(sentinel_url).ping()


@pytest.mark.celery
def test_a_celery_task_goes_and_runs_through_sentinel(sentinel_url, private_redis):
    from celery import Celery
    from celery.contrib.testing.worker import start_worker

    from mailer.celery_app import configure

    app = configure(Celery("sentinel-test"), Settings(_env_file=None, broker_url=sentinel_url))
    key = f"mailer:test:{uuid.uuid4().hex}"

    @app.task(name="sentinel_test.mark")
    def mark(value: str) -> None:
        client(sentinel_url).set(key, value, ex=60)

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        mark.apply_async(("ran",), queue="send")
        master = redis.Redis(host="127.0.0.1", port=private_redis.port, db=3)
        deadline = time.monotonic() + 20
        while master.get(key) is None and time.monotonic() < deadline:
            time.sleep(0.05)
    assert master.get(key) == b"ran"
