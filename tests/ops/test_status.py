"""`mailer ops status` and GET /metrics."""

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest
import redis
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from mailer.broker import HEARTBEAT_SECONDS, HEARTBEATS_KEY, beat_heart, heartbeats
from mailer.celery_app import create_app
from mailer.cli import main
from mailer.config import Settings
from mailer.db import utcnow
from mailer.delivery import counters, start
from mailer.delivery.facade import send_now
from mailer.delivery.models import Batch, BatchStatus
from mailer.issues.models import Edition, Issue
from mailer.ops.status import issues_in_flight, queue_depths, stuck_batches, workers
from mailer.web.app import create_app as create_web_app
from tests.factories import start_send


@pytest.fixture
def two_to_a_batch(settings, monkeypatch):
    """Batches of two recipients (the issue's readers make several)."""
    monkeypatch.setattr(settings, "batch_size", 2)


pytestmark = pytest.mark.usefixtures("subscribers_by_lang", "two_to_a_batch")


def test_progress_and_time_to_drain_of_an_issue_in_flight(session, issue, settings):

    started = utcnow() - timedelta(seconds=60)
    batch_ids = start_send(session, issue, settings, started)
    session.execute(update(Edition).where(Edition.issue_id == issue.id).values(started_at=started))
    session.execute(update(Issue).where(Issue.id == issue.id).values(updated_at=started))
    session.commit()
    now = utcnow()
    session.execute(
        update(Batch)
        .where(Batch.id.in_(batch_ids[:2]))
        .values(status=BatchStatus.ACCEPTED, sent_at=now - timedelta(seconds=30))
    )
    session.execute(
        update(Batch).where(Batch.id == batch_ids[2]).values(status=BatchStatus.UNKNOWN)
    )
    session.commit()
    [row] = issues_in_flight(session, now, settings)
    assert row["number"] == issue.number and row["status"] == "sending"
    assert (row["done"], row["total"]) == (4, 9)
    # the last minute's 4 recipients over 60 s, not over a fixed 300 s (5 / (4 / 300) = 375 s)
    assert row["per_second"] == pytest.approx(4 / 60, abs=0.05)
    assert row["eta_seconds"] == pytest.approx(75, abs=1) and row["ledger_pending"] == []
    assert stuck_batches(session, now) == {"unknown": 1, "retrying": 0, "lease_expired": 0}


def test_no_time_to_drain_while_a_ledger_is_still_written(session, issue, settings, runtime):

    editions = start.begin_send(session, issue, utcnow())
    ko = next(e for e in editions if e.lang == "ko")
    start.start_editions(session, issue, [ko], settings, utcnow())
    session.commit()
    [row] = issues_in_flight(session, utcnow(), settings)
    assert (
        row["total"] == 4 and row["ledger_pending"] == ["both", "en"] and row["eta_seconds"] is None
    )
    result = CliRunner().invoke(main, ["ops", "status"], obj=runtime)
    assert "4 recipients (ledger still to write: both, en)" in result.output


def test_ops_status_json_without_a_broker(session, issue, runtime):
    send_now(runtime, issue.number)
    result = CliRunner().invoke(main, ["ops", "status", "--json"], obj=runtime)
    data = json.loads(result.stdout)
    assert data["queues"] is None and data["workers"] is None and data["issues"] == []
    assert set(data) == {
        "broker",
        "queues",
        "workers",
        "issues",
        "batches",
        "failures",
        "next_send",
        "last_issue",
        "degraded",
    }
    assert data["broker"] == {"status": "none"} and data["degraded"] == [] and result.exit_code == 0


@pytest.mark.celery
@pytest.mark.slow
def test_queue_depth_and_workers_read_from_redis(session, settings, redis_url):
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    broker = Settings(_env_file=None, broker_url=redis_url)
    app = create_app(broker)
    for _ in range(3):
        app.send_task("mailer.ingest_all", queue="ingest")
    depths = queue_depths(broker)
    assert depths["ingest"] == 3 and depths["send"] == 0
    env = {**os.environ, "MAILER_BROKER_URL": redis_url}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mailer.cli",
            "worker",
            "-Q",
            "assemble",
            "-P",
            "solo",
            "-n",
            "opsprobe@%h",
            "--loglevel",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        seen = []
        for _ in range(30):
            seen = workers(broker)
            if seen:
                break
            time.sleep(0.5)
        assert [w["name"].split("@")[0] for w in seen] == ["opsprobe"]
        assert seen[0]["queues"] == ["assemble"]
        for _ in range(30):  # its heartbeat: what `ops status` reads without asking the workers
            if client.hexists(HEARTBEATS_KEY, seen[0]["name"]):
                break
            time.sleep(0.5)
        assert heartbeats(client, time.time()) == seen
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert not client.hexists(HEARTBEATS_KEY, seen[0]["name"])  # a worker that stops says so
    client.flushdb()


def test_workers_are_read_from_fresh_heartbeats_and_stale_ones_forgotten(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.delete(HEARTBEATS_KEY)
    broker = Settings(_env_file=None, broker_url=redis_url)
    now = time.time()
    beat_heart(
        client,
        "send-1@host",
        ["send", "mail"],
        [{"task": "mailer.send_batch", "args": "(7,)"}],
        now,
    )
    beat_heart(client, "gone@host", ["send"], [], now - 3 * HEARTBEAT_SECONDS - 1)
    # no worker runs: a broadcast would find none, so these come from the heartbeats alone
    assert workers(broker) == [
        {
            "name": "send-1@host",
            "queues": ["mail", "send"],
            "active": [{"task": "mailer.send_batch", "args": "(7,)"}],
        }
    ]
    assert not client.hexists(HEARTBEATS_KEY, "gone@host")
    client.delete(HEARTBEATS_KEY)


def test_metrics_in_prometheus_format(session, issue, make_runtime, runtime):
    send_now(runtime, issue.number)  # counts its answers in the runtime's store, as /metrics reads
    counters.record_events(runtime.kv, Counter({"delivered": 3}))
    body = TestClient(create_web_app(runtime)).get("/metrics")
    assert body.status_code == 200 and body.headers["content-type"].startswith("text/plain")
    text = body.text
    assert f'mailer_deliveries{{issue="{issue.number}",lang="ko",status="sent"}} 4.0' in text
    assert f'mailer_batches{{issue="{issue.number}",status="accepted"}} 5.0' in text
    assert 'mailer_sendgrid_responses_total{status="outbox"} 5.0' in text
    assert (
        "mailer_batch_send_seconds_count 5.0" in text
        and 'mailer_batch_send_seconds_bucket{le="+Inf"} 5.0' in text
    )
    assert 'mailer_webhook_events_total{event="delivered"} 3.0' in text


def test_ops_status_says_a_pause_reason_in_english(session, issue, settings, runtime):
    from mailer.delivery import facade
    from mailer.issues import reasons

    start_send(session, issue, settings, utcnow())  # in flight, no batch sent yet
    session.commit()
    facade.pause(runtime, issue.number, reasons.paused("mina", "a typo in the lead"))
    text = CliRunner().invoke(main, ["ops", "status"], obj=runtime).output
    assert (
        f"issue #{issue.number}: paused" in text and "(paused by mina: a typo in the lead)" in text
    )
    data = json.loads(CliRunner().invoke(main, ["ops", "status", "--json"], obj=runtime).stdout)
    assert [i["reason"] for i in data["issues"]] == ["paused by mina: a typo in the lead"]


def test_ops_status_names_the_next_scheduled_send(session, issue, runtime, settings):
    from mailer.issues import scheduling

    output = CliRunner().invoke(main, ["ops", "status"], obj=runtime).output
    assert "next scheduled send: none" in output.splitlines()
    due = (utcnow() + timedelta(hours=3)).replace(second=0, microsecond=0)
    scheduling.schedule(
        session, issue, ("ko", "en", "both"), due, utcnow(), settings, approved_by="an admin"
    )
    session.commit()
    session.execute(
        update(Edition)
        .where(Edition.issue_id == issue.id, Edition.lang == "en")
        .values(send_at=due - timedelta(hours=1))
    )
    session.commit()
    lines = CliRunner().invoke(main, ["ops", "status"], obj=runtime).output.splitlines()
    earliest = due - timedelta(hours=1)
    assert f"next scheduled send: #{issue.number} en at {earliest:%Y-%m-%d %H:%M} UTC" in lines


def test_ops_status_names_the_last_issues_warnings(session, issue, runtime, settings):
    from mailer.delivery.models import Delivery
    from mailer.events.apply import apply_pending
    from mailer.events.stats import refresh_counts
    from mailer.events.store import store

    send_now(runtime, issue.number)
    session.expire_all()
    deliveries = session.scalars(select(Delivery).order_by(Delivery.id)).all()
    complainer, at = deliveries[0], utcnow()

    def event(kind, d):
        return {
            "event": kind,
            "email": d.email,
            "timestamp": int(at.timestamp()),
            "sg_event_id": f"{kind}-{d.id}",
            "issue_id": str(d.issue_id),
            "delivery_id": str(d.id),
        }

    store(session, [event("delivered", d) for d in deliveries], at)
    store(session, [event("spamreport", complainer)], at)
    apply_pending(session, at, settings)
    refresh_counts(session, issue.id, utcnow())  # beat's refresh-issue-counts
    session.commit()
    lang = session.get(Edition, complainer.edition_id).lang
    readers = {"ko": 4, "en": 3, "both": 2}[lang]
    lines = CliRunner().invoke(main, ["ops", "status"], obj=runtime).output.splitlines()
    n = issue.number
    assert [line for line in lines if line.startswith("warning:")] == [
        f"warning:  issue #{n} {lang} edition: complaint rate {100 / readers:.2f}%, above the 0.1% limit",
        f"warning:  issue #{n} whole issue: complaint rate {100 / 9:.2f}%, above the 0.1% limit",
    ]
