"""POST /webhooks/sendgrid: signed, forged, unsigned and stale posts; replays; out-of-order events; a big post."""

import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailer.db import utcnow
from mailer.delivery import batches
from mailer.delivery.models import Delivery, DeliveryStatus
from mailer.events import reconcile
from mailer.events.models import WebhookEvent
from mailer.standin.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, generate_private_key, sign
from mailer.web.app import create_app

from .conftest import KEY


def _event(kind, delivery, n=0, **extra):
    return {
        "event": kind,
        "email": delivery.email,
        "timestamp": int(time.time()),
        "sg_event_id": f"{kind}-{delivery.id}-{n}",
        "sg_message_id": f"msg.{delivery.id}",
        "delivery_id": str(delivery.id),
        "batch_id": str(delivery.batch_id),
        "issue_id": str(delivery.issue_id),
        "category": ["digest"],
        **extra,
    }


def post(client, events, key=KEY, stamp=None, body=None):
    body = body if body is not None else json.dumps(events).encode()
    stamp = stamp or str(int(time.time()))
    headers = {
        SIGNATURE_HEADER: sign(body, stamp, key),
        TIMESTAMP_HEADER: stamp,
        "Content-Type": "application/json",
    }
    return client.post("/webhooks/sendgrid", content=body, headers=headers)


def _statuses(session):
    session.expire_all()
    return {d.id: d.status for d in session.scalars(select(Delivery))}


def _stored(session):
    return session.scalar(select(func.count()).select_from(WebhookEvent))


def test_a_signed_post_is_stored_and_applied(webhook_client, session, deliveries):
    d = deliveries[0]
    response = post(webhook_client, [_event("processed", d), _event("delivered", d)])
    assert response.status_code == 200 and response.json() == {
        "received": 2,
        "new": 2,
        "rejected": 0,
    }
    assert _statuses(session)[d.id] == DeliveryStatus.DELIVERED
    assert session.scalar(select(func.count()).where(WebhookEvent.processed_at.is_(None))) == 0


def test_forged_unsigned_and_stale_posts_change_nothing(webhook_client, session, deliveries):
    d = deliveries[0]
    events = [_event("delivered", d)]
    body = json.dumps(events).encode()
    stamp = str(int(time.time()))
    tampered = {SIGNATURE_HEADER: sign(body, stamp, KEY), TIMESTAMP_HEADER: stamp}
    assert (
        webhook_client.post(
            "/webhooks/sendgrid", content=body.replace(b"delivered", b"bounce"), headers=tampered
        ).status_code
        == 403
    )
    assert (
        post(webhook_client, events, key=generate_private_key()).status_code == 403
    )  # someone else's key
    assert webhook_client.post("/webhooks/sendgrid", content=body).status_code == 401  # unsigned
    stale = str(int(time.time()) - 11 * 60)
    assert post(webhook_client, events, stamp=stale).status_code == 403
    assert _stored(session) == 0 and _statuses(session)[d.id] == DeliveryStatus.QUEUED


def test_no_configured_key_refuses_everything(runtime, session, deliveries):
    response = post(TestClient(create_app(runtime)), [_event("delivered", deliveries[0])])
    assert response.status_code == 503 and _stored(session) == 0


def test_a_signed_post_that_is_not_events_is_a_400(webhook_client, session):
    assert post(webhook_client, None, body=b'{"not": "a list"}').status_code == 400
    assert post(webhook_client, None, body=b"\xff\xfe").status_code == 400
    assert _stored(session) == 0


def test_replays_are_stored_once(webhook_client, session, deliveries):
    events = [_event("processed", d) for d in deliveries]
    assert post(webhook_client, events).json()["new"] == len(events)
    assert post(webhook_client, events).json() == {"received": len(events), "new": 0, "rejected": 0}
    assert _stored(session) == len(events)


def test_out_of_order_events_never_move_a_delivery_backwards(webhook_client, session, deliveries):
    d = deliveries[0]
    post(webhook_client, [_event("delivered", d)])
    post(webhook_client, [_event("processed", d)])  # late
    assert _statuses(session)[d.id] == DeliveryStatus.DELIVERED
    post(webhook_client, [_event("click", d), _event("open", d)])
    assert _statuses(session)[d.id] == DeliveryStatus.CLICKED


def test_processed_evidence_reconciles_a_lost_answer(webhook_client, session, deliveries, settings):
    from datetime import timedelta

    from mailer.delivery.models import Batch, BatchStatus

    batch_id = deliveries[0].batch_id
    members = [d for d in deliveries if d.batch_id == batch_id]
    session.get(Batch, batch_id).status = BatchStatus.UNKNOWN
    session.commit()
    post(webhook_client, [_event("processed", d) for d in members])
    later = utcnow() + timedelta(seconds=settings.reconcile_grace_seconds + 1)
    assert (
        reconcile.reconcile_batch(session, batch_id, later, settings).status == BatchStatus.ACCEPTED
    )


@pytest.mark.slow
def test_one_post_of_ten_thousand_events(webhook_client, session, deliveries):
    d = deliveries[0]
    events = [_event("open", d, n) for n in range(10_000)]
    response = post(webhook_client, events)
    assert response.status_code == 200 and response.json()["new"] == 10_000
    assert _stored(session) == 10_000
    assert _statuses(session)[d.id] == DeliveryStatus.OPENED


def test_bounces_complaints_and_unsubscribes_reach_the_subscriber(
    webhook_client, session, deliveries
):
    from subscribers import service as subscribers

    a, b, c, d = deliveries[:4]
    post(
        webhook_client,
        [
            _event("bounce", a, type="bounce", status="5.1.1", reason="550 no such user"),
            _event("spamreport", b),
            _event("unsubscribe", c),
            _event("dropped", d, reason="Bounced Address"),
            _event("delivered", d),
        ],
    )
    session.expire_all()
    status = {x.email: subscribers.get_by_email(session, x.email).status for x in (a, b, c, d)}
    assert status == {
        a.email: "bounced",
        b.email: "complained",
        c.email: "unsubscribed",
        d.email: "bounced",
    }
    post(webhook_client, [_event("delivered", b, 9)])  # a later event undoes no suppression
    session.expire_all()
    assert subscribers.get_by_email(session, b.email).status == "complained"
    assert _statuses(session)[a.id] == DeliveryStatus.BOUNCED


def test_stored_but_unapplied_evidence_postpones_reconciliation(
    session, deliveries, settings, runtime
):
    """A broker restart can lose the task that applies stored events: judging the batch without them
    would mail its recipients twice."""
    from datetime import timedelta

    from mailer.delivery.models import Batch, BatchStatus
    from mailer.events import store
    from mailer.events.tasks import run_process_events

    batch_id = deliveries[0].batch_id
    members = [d for d in deliveries if d.batch_id == batch_id]
    session.get(Batch, batch_id).status = BatchStatus.UNKNOWN
    # stored (timestamped well after the loss, so the stream has caught up), but their task was lost
    stamp = int(time.time()) + 60
    store.store(session, [_event("processed", d, timestamp=stamp) for d in members], utcnow())
    session.commit()
    later = utcnow() + timedelta(seconds=settings.reconcile_grace_seconds + 1)
    waiting = reconcile.reconcile_batch(session, batch_id, later, settings)
    assert waiting == batches.BatchOutcome(BatchStatus.UNKNOWN)  # not resent; the sweep asks again
    assert run_process_events(runtime) == len(members)  # what beat's apply-stored-events does
    session.expire_all()
    assert (
        reconcile.reconcile_batch(session, batch_id, later, settings).status == BatchStatus.ACCEPTED
    )


def test_a_post_with_the_broker_down_is_answered_2xx_and_applied_by_the_sweep(
    make_runtime, session, deliveries, monkeypatch, caplog
):
    """The events are committed before the apply task is queued: a 5xx then would only have SendGrid
    post them again. Beat's apply-stored-events applies them once the broker is back."""
    from kombu.exceptions import OperationalError

    from mailer.events.tasks import run_process_events
    from mailer.standin.signing import public_key_b64

    runtime = make_runtime(
        broker_url="redis://127.0.0.1:1/0", sendgrid_webhook_public_key=public_key_b64(KEY)
    )

    def down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(runtime.tasks.celery, "send_task", down)
    d = deliveries[0]
    response = post(TestClient(create_app(runtime)), [_event("delivered", d)])
    assert response.status_code == 200 and response.json()["new"] == 1
    assert "not yet applied: broker unreachable" in caplog.text
    assert _statuses(session)[d.id] == DeliveryStatus.QUEUED  # stored, waiting
    assert run_process_events(runtime) == 1  # beat's apply-stored-events
    assert _statuses(session)[d.id] == DeliveryStatus.DELIVERED


def test_concurrent_posts_with_the_same_events_never_deadlock(make_runtime, session, deliveries):
    """Eight posts at once, each the same events (SendGrid's retries) in its own order, each stored
    and applied in its request (in process): on PostgreSQL, rows inserted and locked in one order
    make one transaction wait for another, never a deadlock answered 500."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    from mailer.standin.signing import public_key_b64

    runtime = make_runtime(sendgrid_webhook_public_key=public_key_b64(KEY))
    kinds = ("processed", "delivered", "open", "click")
    events = [_event(kind, d, n) for d in deliveries for kind in kinds for n in range(3)]

    def poster(seed: int) -> list[int]:
        mine = random.Random(seed).sample(events, len(events))
        with TestClient(create_app(runtime)) as client:
            return [post(client, mine[i : i + 40]).status_code for i in range(0, len(mine), 40)]

    with ThreadPoolExecutor(8) as pool:
        answers = [code for codes in pool.map(poster, range(8)) for code in codes]
    assert set(answers) == {200}
    assert _stored(session) == len(events)
    assert set(_statuses(session).values()) == {DeliveryStatus.CLICKED}
