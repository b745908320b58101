"""Eight webhook posters at once against `mailer serve`, with a real worker applying what they store:
SendGrid retries posts (duplicates) and posts from several connections. No post is answered 5xx, and
each event is stored and applied once. Before: 21 of 420 posts answered 500 (deadlocks), 6 apply
tasks died."""

from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from sqlalchemy import func, select

from mailer.delivery.models import Delivery, DeliveryStatus
from mailer.events.models import WebhookEvent
from mailer.standin.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, public_key_b64, sign
from tests.broker import free_port
from tests.live import Stack, wait_for

from .conftest import KEY

pytestmark = [pytest.mark.celery, pytest.mark.slow]
POSTERS, KINDS, REPEATS = 8, ("processed", "delivered", "open", "click"), 10


def _event(kind: str, d: Delivery, n: int) -> dict:
    return {
        "event": kind,
        "email": d.email,
        "timestamp": int(time.time()),
        "sg_event_id": f"{kind}-{d.id}-{n}",
        "sg_message_id": f"msg.{d.id}",
        "delivery_id": str(d.id),
        "batch_id": str(d.batch_id),
        "issue_id": str(d.issue_id),
        "category": ["digest"],
    }


def _post(url: str, events: list[dict]) -> int:
    body = json.dumps(events).encode()
    stamp = str(int(time.time()))
    request = urllib.request.Request(
        url,
        data=body,
        headers={
            SIGNATURE_HEADER: sign(body, stamp, KEY),
            TIMESTAMP_HEADER: stamp,
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def _up(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1)
    except OSError:
        return False
    return True


def test_eight_posters_with_duplicates_get_no_5xx_and_each_event_applies_once(
    session, deliveries, tmp_path, redis_url
):
    redis.Redis.from_url(redis_url).flushdb()
    events = [_event(kind, d, n) for d in deliveries for kind in KINDS for n in range(REPEATS)]
    port = free_port()
    stack = Stack(
        {
            **os.environ,
            "MAILER_BROKER_URL": redis_url,
            "MAILER_SENDGRID_WEBHOOK_PUBLIC_KEY": public_key_b64(KEY),
        },
        tmp_path,
    )
    url = f"http://127.0.0.1:{port}/webhooks/sendgrid"

    def poster(seed: int) -> list[int]:
        """Every event, in an order of its own, 36 to a post: each is posted by all eight."""
        mine = random.Random(seed).sample(events, len(events))
        return [_post(url, mine[i : i + 36]) for i in range(0, len(mine), 36)]

    def applied() -> bool:
        session.rollback()
        return not session.scalar(
            select(func.count()).where(WebhookEvent.processed_at.is_(None))
        ) and session.scalar(select(func.count()).select_from(WebhookEvent))

    try:
        stack.start("web", "serve", "--port", str(port))
        stack.start("worker", "worker", "-Q", "events", "-c", "2", "-n", "events@%h")
        stack.wait_workers("events")
        wait_for(lambda: _up(f"http://127.0.0.1:{port}/healthz"), 30, "the web app")
        with ThreadPoolExecutor(POSTERS) as pool:
            answers = [code for codes in pool.map(poster, range(POSTERS)) for code in codes]
        wait_for(applied, 60, "every stored event applied")
    finally:
        stack.stop()
    assert len(answers) == POSTERS * 10 and set(answers) == {200}, sorted(set(answers))
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == len(events)
    assert not session.scalar(select(func.count()).where(WebhookEvent.error.is_not(None)))
    session.expire_all()
    assert {d.status for d in session.scalars(select(Delivery))} == {DeliveryStatus.CLICKED}
    log = stack.log("worker")
    assert "Traceback" not in log and "deadlock" not in log.lower(), log
