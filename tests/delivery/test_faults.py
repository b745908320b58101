"""The whole pipeline under faults: real Celery workers on Redis, the web app receiving the stand-in's
signed webhook, beat sweeping, and SendGrid's stand-in answering 429s, 500s and dropping answers.
Every subscriber must be mailed exactly once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter

import pytest
import redis
from sqlalchemy import insert, select

from mailer.db import utcnow
from mailer.delivery.models import Batch, Delivery, DeliveryStatus
from mailer.issues.models import Issue
from mailer.issues.service import draft_issue
from mailer.standin import Faults, StandIn
from subscribers.models import Subscriber

REDIS_URL = os.environ.get("MAILER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
pytestmark = pytest.mark.celery


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """Processes started as ops would start them, all on this machine."""

    def __init__(self, env: dict, tmp_path):
        self.env, self.tmp_path, self.procs = env, tmp_path, {}

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        self.procs[name] = (subprocess.Popen([sys.executable, "-m", "mailer.cli", *args], env=self.env,
                                             stdout=log, stderr=subprocess.STDOUT), log)
        return self.procs[name][0]

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text()

    def stop(self):
        for proc, log in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, log in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


@pytest.fixture
def stack(session, ingested, settings, tmp_path):
    redis.Redis.from_url(REDIS_URL).flushdb()
    web_port = _free_port()
    standin = StandIn(api_key="SG.faults", webhook_url=f"http://127.0.0.1:{web_port}/webhooks/sendgrid",
                      webhook_interval=0.2, slow_seconds=0.5).start()
    env = {**os.environ,
           "MAILER_BROKER_URL": REDIS_URL, "MAILER_MAIL_BACKEND": "sendgrid",
           "MAILER_SENDGRID_HOST": standin.url, "MAILER_SENDGRID_API_KEY": "SG.faults",
           "MAILER_SENDGRID_TIMEOUT_SECONDS": "5", "MAILER_SENDGRID_WEBHOOK_PUBLIC_KEY": standin.public_key_b64(),
           "MAILER_BATCH_SIZE": "50", "MAILER_RECONCILE_GRACE_SECONDS": "3", "MAILER_BATCH_LEASE_SECONDS": "8",
           "MAILER_MAINTENANCE_INTERVAL_SECONDS": "1", "MAILER_SEND_MAX_RETRIES": "20"}
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


def _subscribers(session, n: int) -> list[str]:
    langs = ("ko", "en", "both")
    rows = [{"email": f"reader{i}@example.com", "lang": langs[i % 3], "status": "active",
             "consent_source": "test", "created_at": utcnow(), "updated_at": utcnow()} for i in range(n)]
    session.execute(insert(Subscriber), rows)
    session.commit()
    return [r["email"] for r in rows]


def _send_and_wait(stack, number: int, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mailer.cli", "issue", "send", str(number), "--wait"],
                          env=stack.env, capture_output=True, text=True, timeout=timeout, check=False)


def _assert_everyone_exactly_once(session, stack, emails, issue):
    mailed = Counter(stack.standin.recipients())
    assert set(mailed) == set(emails), f"lost: {len(set(emails) - set(mailed))}"
    duplicates = {e: n for e, n in mailed.items() if n > 1}
    assert not duplicates, f"{len(duplicates)} mailed twice"
    session.expire_all()
    assert session.get(Issue, issue.id).status == "sent"
    statuses = Counter(session.scalars(select(Delivery.status)))
    assert sum(statuses.values()) == len(emails)
    assert not statuses.keys() & {DeliveryStatus.QUEUED, DeliveryStatus.FAILED, DeliveryStatus.CANCELLED}


def test_5000_subscribers_through_429s_500s_and_lost_answers(session, stack):
    emails = _subscribers(session, 5000)
    issue = draft_issue(session, utcnow())
    session.commit()
    # one of each fault first, so each is seen whatever the dice say, then 10% 429, 5% 500, 1% dropped
    stack.standin.faults = Faults("429:0.10,500:0.05,drop:0.01", script=["429", "500", "drop"], seed=7)
    stack.start("worker", "worker", "-Q", "send,events", "-c", "2", "--loglevel", "warning")
    result = _send_and_wait(stack, issue.number)
    assert result.returncode == 0, result.stdout + result.stderr + stack.log("worker")
    seen = stack.standin.requests_seen
    assert seen["429"] >= 1 and seen["500"] >= 1 and seen["drop"] >= 1, seen
    _assert_everyone_exactly_once(session, stack, emails, issue)
    assert "Traceback" not in stack.log("worker")


def test_a_worker_killed_mid_send_loses_and_repeats_nobody(session, stack):
    emails = _subscribers(session, 5000)
    issue = draft_issue(session, utcnow())
    session.commit()
    stack.standin.faults = Faults("slow:1.0")  # every request takes a while: there is a "mid"
    stack.standin.slow_seconds = 0.3
    stack.env["MAILER_BATCH_SIZE"] = "100"
    victim = stack.start("victim", "worker", "-Q", "send", "-P", "solo", "-n", "victim@%h", "--loglevel", "warning")
    stack.start("survivor", "worker", "-Q", "send,events", "-P", "solo", "-n", "survivor@%h", "--loglevel", "warning")
    sender = subprocess.Popen([sys.executable, "-m", "mailer.cli", "issue", "send", str(issue.number), "--wait"],
                              env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while len(stack.standin.recipients()) < 1000 and time.time() < deadline:  # well under way
        time.sleep(0.02)
    time.sleep(0.15)  # inside a request
    victim.send_signal(signal.SIGKILL)
    out, err = sender.communicate(timeout=240)
    assert sender.returncode == 0, out + err + stack.log("survivor")
    _assert_everyone_exactly_once(session, stack, emails, issue)
    # the victim's batch went the safe way: lease expired -> unknown -> reconciled from webhook evidence
    errors = session.scalars(select(Batch.last_error).where(Batch.last_error.is_not(None))).all()
    assert any("lease expired" in e for e in errors), errors
