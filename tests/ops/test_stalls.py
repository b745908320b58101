"""`mailer ops status` and /metrics: the rate over the last minute, "starting" at first, and a stalled
send named as stalled, with the reason, whatever the rate of the minutes before."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
import redis
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import update

from mailer.cli import main
from mailer.db import utcnow
from mailer.delivery import counters
from mailer.delivery.figures import STALLED
from mailer.delivery.models import Batch, BatchStatus
from mailer.issues.models import Edition, Issue
from mailer.ops.status import issues_in_flight
from mailer.web.app import create_app as create_web_app
from tests.factories import start_send


@pytest.fixture
def two_to_a_batch(settings, monkeypatch):
    """Batches of two recipients: the nine readers make five."""
    monkeypatch.setattr(settings, "batch_size", 2)


pytestmark = pytest.mark.usefixtures("subscribers_by_lang", "two_to_a_batch")


def began(session, issue, settings, seconds_ago: float) -> list[int]:
    """The issue's ledger written and nothing queued, as if its send started `seconds_ago`."""
    then = utcnow() - timedelta(seconds=seconds_ago)
    batch_ids = start_send(session, issue, settings, then)
    session.execute(update(Edition).where(Edition.issue_id == issue.id).values(started_at=then))
    session.execute(update(Issue).where(Issue.id == issue.id).values(updated_at=then))
    session.commit()
    return batch_ids


def accept(session, batch_ids, seconds_ago: float) -> None:
    session.execute(
        update(Batch)
        .where(Batch.id.in_(batch_ids))
        .values(status=BatchStatus.ACCEPTED, sent_at=utcnow() - timedelta(seconds=seconds_ago))
    )
    session.commit()


def test_rate_and_time_left_come_from_the_last_minute(session, issue, settings, runtime):
    batch_ids = began(session, issue, settings, 20)
    accept(session, batch_ids[:1], 8)
    accept(session, batch_ids[1:2], 4)
    [row] = issues_in_flight(session, utcnow(), settings)
    # 4 recipients in the 8 s since the first request: 0.5 a second, 5 waiting, 10 s left (the
    # five-minute window over 300 s said 0.0/s and 375 s; counted from the send's start, 0.2/s, 25 s)
    assert row["state"] == "sending" and row["per_second"] == 0.5
    assert row["eta_seconds"] == pytest.approx(10, abs=1)
    shown = CliRunner().invoke(main, ["ops", "status"], obj=runtime).output
    assert f"issue #{issue.number}: sending 4/9 recipients" in shown
    # read a moment later than the row above: on a busy machine the window has grown a second or two
    assert re.search(r"0\.[45]/s over the last (8|9|10|11)s, time to drain 1\ds", shown), shown


def test_editions_started_seconds_apart_are_one_send(session, issue, settings):
    """The editions' ledgers are written one after another: the rate counts from the first start, not
    the newest (from which a steady send read "starting" ten seconds in)."""
    batch_ids = began(session, issue, settings, 20)
    newest = (
        update(Edition)
        .where(Edition.issue_id == issue.id, Edition.lang == "both")
        .values(started_at=utcnow() - timedelta(seconds=4))
    )
    session.execute(newest)
    session.commit()
    accept(session, batch_ids[:1], 8)
    accept(session, batch_ids[1:2], 4)
    [row] = issues_in_flight(session, utcnow(), settings)
    assert row["state"] == "sending" and row["per_second"] == 0.5
    # an edition long done adds no quiet time to one started since
    session.execute(
        update(Edition)
        .where(Edition.issue_id == issue.id, Edition.lang != "both")
        .values(started_at=utcnow() - timedelta(minutes=30))
    )
    session.execute(
        update(Batch)
        .where(Batch.issue_id == issue.id, Batch.edition_id.in_(_editions(session, issue, "both")))
        .values(status=BatchStatus.PENDING)
    )
    session.execute(
        update(Batch)
        .where(
            Batch.issue_id == issue.id, Batch.edition_id.not_in(_editions(session, issue, "both"))
        )
        .values(status=BatchStatus.ACCEPTED, sent_at=utcnow() - timedelta(minutes=29))
    )
    session.commit()
    [row] = issues_in_flight(session, utcnow(), settings)
    assert row["state"] == "starting"  # 4 s since the edition in flight began: too early to say


def _editions(session, issue, lang: str) -> list[int]:
    from sqlalchemy import select

    return list(
        session.scalars(
            select(Edition.id).where(Edition.issue_id == issue.id, Edition.lang == lang)
        )
    )


def test_a_send_just_started_reads_as_starting(session, issue, settings, runtime):
    batch_ids = began(session, issue, settings, 1)
    accept(session, batch_ids[:1], 0.5)
    [row] = issues_in_flight(session, utcnow(), settings)
    assert row["state"] == "starting" and row["eta_seconds"] is None and row["per_second"] is None
    shown = CliRunner().invoke(main, ["ops", "status"], obj=runtime).output
    assert "starting: too early for a rate" in shown and "time to drain" not in shown


def test_a_stall_reads_as_stalled_with_its_reason(session, issue, settings, make_runtime):
    """Two minutes in, two batches sent in the first seconds and nothing since, the broker down: the
    old figures said 0.0/s and minutes to drain; now ops status says stalled, and why."""
    batch_ids = began(session, issue, settings, 120)
    accept(session, batch_ids[:2], 115)
    down = make_runtime(broker_url="redis://127.0.0.1:1/15", batch_size=2)
    result = CliRunner().invoke(main, ["ops", "status", "--check"], obj=down)
    assert result.exit_code == 3
    assert (
        f"issue #{issue.number}: stalled (broker down) 4/9 recipients: 4/9 sent (waiting 5), "
        "nothing accepted for 11" in result.output
    ), result.output
    data = json.loads(CliRunner().invoke(main, ["ops", "status", "--json"], obj=down).stdout)
    [row] = data["issues"]
    assert (row["state"], row["stall_reason"], row["eta_seconds"]) == (STALLED, "broker_down", None)
    assert f"issue #{issue.number} is stalled: broker down" in data["degraded"]


def test_a_stall_after_a_database_error_says_so(session, issue, settings, runtime):
    began(session, issue, settings, 90)
    counters.record_db_error(runtime.kv, time.time() - 5)
    [row] = issues_in_flight(session, utcnow(), settings, runtime.kv)
    assert row["state"] == STALLED and row["stall_reason"] == "database_errors"
    assert row["stalled_for"] >= 90
    # an error older than the threshold is no reason any more
    counters.record_db_error(runtime.kv, time.time() - 600)
    [row] = issues_in_flight(session, utcnow(), settings, runtime.kv)
    assert row["stall_reason"] == "unknown"  # in-process: nothing else can be told


def test_a_send_held_by_the_hourly_rate_limit_says_so(session, issue, settings, make_runtime):
    from mailer.delivery.ratelimit import limiter

    began(session, issue, settings, 90)
    rt = make_runtime(batch_size=2, send_rate_per_hour=4)
    assert limiter(rt.settings, rt.kv).reserve(4) == 0  # the hour's four messages went out
    [row] = issues_in_flight(session, utcnow(), rt.settings, rt.kv)
    assert (row["state"], row["stall_reason"]) == (STALLED, "rate_limit")


def test_metrics_say_which_issue_is_stalled_and_why(session, issue, settings, make_runtime):
    began(session, issue, settings, 90)
    scrape = TestClient(create_web_app(make_runtime(batch_size=2))).get("/metrics").text
    assert f'mailer_issue_stalled{{issue="{issue.number}"}} 1.0' in scrape
    assert f'mailer_issue_stall_reason{{issue="{issue.number}",reason="unknown"}} 1.0' in scrape
    assert f'mailer_time_to_drain_seconds{{issue="{issue.number}"}}' not in scrape


def test_metrics_of_a_send_going_well(session, issue, settings, make_runtime):
    batch_ids = began(session, issue, settings, 20)
    accept(session, batch_ids[:1], 8)
    accept(session, batch_ids[1:2], 4)
    scrape = TestClient(create_web_app(make_runtime(batch_size=2))).get("/metrics").text
    assert f'mailer_issue_stalled{{issue="{issue.number}"}} 0.0' in scrape
    assert f'mailer_issue_send_rate{{issue="{issue.number}"}} 0.5' in scrape
    assert f'mailer_time_to_drain_seconds{{issue="{issue.number}"}} 10.0' in scrape
    assert "mailer_issue_stall_reason{" not in scrape


@pytest.mark.celery
@pytest.mark.slow
def test_a_lost_queue_and_a_queue_nobody_takes(session, issue, settings, make_runtime, redis_url):
    """Redis restarted and lost the queued tasks: batches wait and nothing holds them. Messages on the
    send queue and none taken: no worker."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    began(session, issue, settings, 90)
    rt = make_runtime(broker_url=redis_url, batch_size=2)
    [row] = issues_in_flight(session, utcnow(), rt.settings, rt.kv)
    assert (row["state"], row["stall_reason"]) == (STALLED, "queue_lost")
    client.lpush("send", b"{}")
    [row] = issues_in_flight(session, utcnow(), rt.settings, rt.kv)
    assert row["stall_reason"] == "no_worker"
    client.flushdb()
