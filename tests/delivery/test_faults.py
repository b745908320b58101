"""The whole pipeline under faults: real Celery workers on Redis, the web app receiving the stand-in's
signed webhook, beat sweeping, and SendGrid's stand-in answering 429s, 500s and dropping answers.
Every subscriber must be mailed exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, select

from mailer.db import utcnow
from mailer.delivery.models import Batch, BatchStatus, DeliveryStatus
from mailer.delivery.states import LEASABLE
from mailer.issues.models import Issue
from mailer.issues.service import draft_issue
from mailer.standin import Faults, StandIn
from tests.broker import free_port
from tests.factories import shown_statuses
from tests.live import Stack, add_readers, wait_for

pytestmark = [pytest.mark.celery, pytest.mark.slow]
PROBE = "probe@news.example.com"


def _stack(settings, tmp_path, broker_url: str):
    redis.Redis.from_url(broker_url).flushdb()
    web_port = free_port()
    standin = StandIn(
        api_key="SG.faults",
        webhook_url=f"http://127.0.0.1:{web_port}/webhooks/sendgrid",
        webhook_interval=0.2,
        slow_seconds=0.5,
    ).start()
    env = {
        **os.environ,
        "MAILER_BROKER_URL": broker_url,
        "MAILER_MAIL_BACKEND": "sendgrid",
        "MAILER_SENDGRID_HOST": standin.url,
        "MAILER_SENDGRID_API_KEY": "SG.faults",
        "MAILER_SENDGRID_TIMEOUT_SECONDS": "5",
        "MAILER_SENDGRID_WEBHOOK_PUBLIC_KEY": standin.public_key_b64(),
        "MAILER_BATCH_SIZE": "50",
        "MAILER_RECONCILE_GRACE_SECONDS": "3",
        "MAILER_BATCH_LEASE_SECONDS": "8",
        "MAILER_MAINTENANCE_INTERVAL_SECONDS": "1",
        "MAILER_SEND_MAX_RETRIES": "20",
    }
    s = Stack(env, tmp_path)
    s.standin = standin
    s.start("web", "serve", "--port", str(web_port))
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    s.start("beat", "beat", "--loglevel", "warning", "--schedule", str(tmp_path / "beat-schedule"))
    yield s
    s.stop()
    standin.stop()


@pytest.fixture
def stack(session, ingested, settings, tmp_path, redis_url):
    yield from _stack(settings, tmp_path, redis_url)


@pytest.fixture
def stack_on_private_redis(session, ingested, settings, tmp_path, private_redis):
    yield from _stack(settings, tmp_path, private_redis.url)


def _send_and_wait(stack, number: int, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mailer.cli", "issue", "send", str(number), "--wait"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _readers_mailed(stack) -> list[str]:
    return [r for r in stack.standin.recipients() if r != PROBE]


def _assert_everyone_exactly_once(session, stack, emails, issue):
    mailed = Counter(_readers_mailed(stack))
    assert set(mailed) == set(emails), f"lost: {len(set(emails) - set(mailed))}"
    duplicates = {e: n for e, n in mailed.items() if n > 1}
    assert not duplicates, f"{len(duplicates)} mailed twice"
    session.expire_all()
    assert session.get(Issue, issue.id).status == "sent"
    statuses = Counter(shown_statuses(session))
    assert sum(statuses.values()) == len(emails)
    assert not statuses.keys() & {
        DeliveryStatus.QUEUED,
        DeliveryStatus.FAILED,
        DeliveryStatus.CANCELLED,
    }


def test_5000_subscribers_through_429s_500s_and_lost_answers(session, stack, settings):
    emails = add_readers(session, 5000)
    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    # one of each fault first, so each is seen whatever the dice say, then 10% 429, 5% 500, 1% dropped
    stack.standin.faults = Faults(
        "429:0.10,500:0.05,drop:0.01", script=["429", "500", "drop"], seed=7
    )
    stack.start("worker", "worker", "-Q", "send,events", "-c", "2", "--loglevel", "warning")
    result = _send_and_wait(stack, issue.number)
    assert result.returncode == 0, result.stdout + result.stderr + stack.log("worker")
    seen = stack.standin.requests_seen
    assert seen["429"] >= 1 and seen["500"] >= 1 and seen["drop"] >= 1, seen
    _assert_everyone_exactly_once(session, stack, emails, issue)
    assert "Traceback" not in stack.log("worker")


def test_a_worker_killed_mid_request_near_the_end_costs_a_minute_not_an_hour(
    session, stack, settings
):
    """The victim dies inside its request with the send nearly over, so no webhook event comes
    after the loss on its own: the probe makes the stream pass it. Every reader has one copy, and the
    issue is `sent`, within lease + grace + 60 s of the kill (the max wait, an hour, never ends it)."""
    emails = add_readers(session, 5000)
    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    # 5% 429, 3% 500, 2% accepted with the answer lost; every other answer is slow, so there is a "mid"
    stack.standin.faults = Faults("429:0.05,500:0.03,drop:0.02,slow:0.90", seed=11)
    stack.standin.slow_seconds = 0.5
    stack.env.update({"MAILER_BATCH_SIZE": "100", "MAILER_PROBE_EMAIL": PROBE})
    victim = stack.start(
        "victim", "worker", "-Q", "send", "-P", "solo", "-n", "victim@%h", "--loglevel", "warning"
    )
    stack.start(
        "survivor",
        "worker",
        "-Q",
        "send,events",
        "-P",
        "solo",
        "-n",
        "survivor@%h",
        "--loglevel",
        "warning",
    )
    stack.wait_workers("victim", "survivor")
    sender = subprocess.Popen(
        [sys.executable, "-m", "mailer.cli", "issue", "send", str(issue.number), "--wait"],
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: len(stack.standin.recipients()) >= 4000, 120, "four fifths of the send")
    # Near the end (at most three batches wait for a worker, so the stream goes quiet before the victim's lease
    # ends), with both workers' request marks committed under 0.4 s ago and still `sending` (not a quick 429,
    # 500 or drop): the victim dies inside its 0.5 s request, and the stand-in takes nothing from it.
    deadline = time.time() + 60
    while True:
        assert time.time() < deadline, "never saw both workers inside the last requests"
        marks = session.scalars(
            select(Batch.request_started_at).where(Batch.status == BatchStatus.SENDING)
        ).all()
        waiting = session.scalar(select(func.count()).where(Batch.status.in_(LEASABLE)))
        session.rollback()
        if (
            waiting <= 3
            and len(marks) == 2
            and None not in marks
            and min(marks) > utcnow() - timedelta(seconds=0.4)
        ):
            break
        time.sleep(0.005)
    victim.send_signal(signal.SIGKILL)
    killed = time.time()
    env = stack.env
    bound = int(env["MAILER_BATCH_LEASE_SECONDS"]) + int(env["MAILER_RECONCILE_GRACE_SECONDS"]) + 60
    wait_for(
        lambda: set(_readers_mailed(stack)) == set(emails),
        bound,
        f"every reader within {bound} s of the kill",
    )
    mailed = time.time() - killed
    out, err = sender.communicate(
        timeout=max(1.0, killed + bound - time.time())
    )  # and the issue `sent`
    assert sender.returncode == 0, out + err + stack.log("survivor")
    print(f"kill to last copy: {mailed:.1f} s; to the issue sent: {time.time() - killed:.1f} s")
    _assert_everyone_exactly_once(session, stack, emails, issue)
    errors = session.scalars(select(Batch.last_error).where(Batch.last_error.is_not(None))).all()
    assert any("lease expired mid-request" in e for e in errors), errors


def test_a_broker_restart_loses_no_webhook_evidence(
    session, stack_on_private_redis, private_redis, settings
):
    """A dropped answer leaves its batch `unknown`; SendGrid's `processed` events for it are stored, but
    the task that would apply them is lost when Redis restarts. The batch must be judged on that
    evidence (applied by beat's safety net), not sent again."""
    from mailer.events.models import WebhookEvent

    stack = stack_on_private_redis
    emails = add_readers(session, 300)
    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    stack.standin.faults = Faults(None, script=["drop"])  # the first request: accepted, answer lost
    stack.start(
        "sender", "worker", "-Q", "send", "-P", "solo", "-n", "sender@%h", "--loglevel", "warning"
    )
    started = subprocess.run(
        [sys.executable, "-m", "mailer.cli", "issue", "send", str(issue.number)],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 0, started.stdout + started.stderr

    def processed_stored() -> int:
        session.rollback()
        return session.scalar(select(func.count()).where(WebhookEvent.event == "processed"))

    # every recipient accepted once and its evidence stored; nobody consumes the events queue yet
    wait_for(
        lambda: (
            len(stack.standin.recipients()) == len(emails) and processed_stored() == len(emails)
        ),
        60,
        "every recipient accepted and its processed event stored",
    )
    assert stack.standin.requests_seen["drop"] == 1
    private_redis.stop()  # queued tasks are lost: the events' apply task, the batch's reconciliation
    private_redis.start()
    stack.start(
        "worker",
        "worker",
        "-Q",
        "send,events",
        "-P",
        "solo",
        "-n",
        "worker@%h",
        "--loglevel",
        "warning",
    )

    def finished() -> bool:
        session.rollback()
        return session.scalar(select(Issue.status).where(Issue.id == issue.id)) == "sent"

    wait_for(finished, 90, "the issue to finish")
    _assert_everyone_exactly_once(session, stack, emails, issue)
