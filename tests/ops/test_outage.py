"""A Redis outage mid-run (issue 15): a private redis-server is stopped while an issue is in flight, and ops
still see what the database knows (`mailer ops status`, /metrics), then it comes back."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from mailer.cli import main
from mailer.db import utcnow
from mailer.web.app import create_app as create_web_app
from tests.broker import NoRedis, RedisServer
from tests.factories import start_send

pytestmark = pytest.mark.celery


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of the test's own: stopping it must not disturb the tests beside this one."""
    server, error = RedisServer(tmp_path / "redis"), None
    try:
        server.start()
    except NoRedis as e:
        error = str(e)
    if error:
        pytest.fail(error, pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def on_private_redis(private_redis, settings, monkeypatch):
    """The settings pointed at the private Redis (tasks are still run by hand here: no worker)."""
    from mailer.config import get_settings

    monkeypatch.setenv("MAILER_BROKER_URL", private_redis.url)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _ops_status(*args: str):
    result = CliRunner().invoke(main, ["ops", "status", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_ops_see_the_database_through_a_redis_outage(session, issue, subscribers_by_lang, on_private_redis,
                                                     private_redis):
    start_send(session, issue, on_private_redis, utcnow())  # ledger and batches written, nothing sent yet
    session.commit()
    up = _ops_status("--json", "--check")
    assert json.loads(up.stdout)["broker"] == {"status": "up"}
    assert up.exit_code == 3  # degraded all the same: an issue is sending and no worker is online

    private_redis.stop()

    # 1. `mailer ops status` answers from the database, exit 0, and says the broker is down
    text = _ops_status()
    assert text.exit_code == 0, text.output
    assert "broker:   DOWN" in text.output and f"issue #{issue.number}: sending 0/9 recipients" in text.output
    data = json.loads(_ops_status("--json").stdout)
    assert data["broker"]["status"] == "down" and "Connection refused" in data["broker"]["error"]
    assert [(i["number"], i["total"]) for i in data["issues"]] == [(issue.number, 9)]
    assert data["batches"] == {"unknown": 0, "retrying": 0, "lease_expired": 0}
    assert "the broker is down" in data["degraded"]
    assert _ops_status("--check").exit_code == 3

    # 2. /metrics answers 200 with the database's series and mailer_broker_up 0
    scrape = TestClient(create_web_app()).get("/metrics")
    assert scrape.status_code == 200, scrape.text
    assert "mailer_broker_up 0.0" in scrape.text
    assert 'mailer_deliveries{lang="ko",status="queued"} 4.0' in scrape.text
    assert 'mailer_batches{status="pending"}' in scrape.text

    private_redis.start()
    assert json.loads(_ops_status("--json").stdout)["broker"] == {"status": "up"}
    assert "mailer_broker_up 1.0" in TestClient(create_web_app()).get("/metrics").text
