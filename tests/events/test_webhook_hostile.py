"""POST /webhooks/sendgrid under attack: oversized posts, bad events beside good
ones in a signed post, odd timestamp headers, and late events for an erased address."""

import json
import time
from dataclasses import replace

import anyio
import pytest
from sqlalchemy import select

from mailer.events import privacy
from mailer.events.models import WebhookEvent
from mailer.standin.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from subscribers import service as subscribers

from .test_webhook import _event, post

LIMIT = 64 * 1024


@pytest.fixture
def small_limit(webhook_client):
    """The client's app takes webhook posts of at most LIMIT bytes."""
    runtime = webhook_client.app.state.runtime
    limited = runtime.settings.model_copy(update={"webhook_max_bytes": LIMIT})
    webhook_client.app.state.runtime = replace(runtime, settings=limited)


def _rows(session):
    session.expire_all()
    return session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()


def test_a_declared_body_over_the_limit_is_a_413_even_when_signed(
    webhook_client, session, deliveries, small_limit
):
    d = deliveries[0]
    events = [_event("open", d, n) for n in range(LIMIT // 200)]
    assert len(json.dumps(events)) > LIMIT
    response = post(webhook_client, events)
    assert response.status_code == 413 and _rows(session) == []


def _asgi(app, headers: list[tuple[bytes, bytes]], chunks) -> int:
    """Call the app as a server would: header bytes as they came (TestClient re-encodes them as UTF-8),
    the body pulled chunk by chunk from `chunks`. Returns the status answered."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/webhooks/sendgrid",
        "raw_path": b"/webhooks/sendgrid",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    answer = {}

    async def receive():
        chunk = next(chunks, None)
        return {"type": "http.request", "body": chunk or b"", "more_body": chunk is not None}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]

    anyio.run(app, scope, receive, send)
    return answer["status"]


def _signed_headers(stamp: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (SIGNATURE_HEADER.lower().encode(), b"MEUCIQ=="),
        (TIMESTAMP_HEADER.lower().encode(), stamp),
    ]


def test_a_streamed_body_is_cut_off_at_the_limit_not_read_whole(webhook_client, small_limit):
    """No Content-Length, a 64 MiB body, a made-up signature: the app stops pulling at the limit (the old
    code read it all, then found the signature bad)."""
    pulled = []
    chunks = (pulled.append(n) or b"x" * 8192 for n in range(64 * 128))
    status = _asgi(
        webhook_client.app,
        [(b"transfer-encoding", b"chunked"), *_signed_headers(str(int(time.time())).encode())],
        chunks,
    )
    assert status == 413 and len(pulled) * 8192 <= LIMIT + 8192


def test_bad_events_are_rejected_one_by_one_and_the_bounce_beside_them_is_kept(
    webhook_client, session, deliveries
):
    bounced, other = deliveries[0], deliveries[1]
    bad = [
        _event("click", other, 1, email=["a@example.org", "b@example.org"]),
        _event("click", other, 2, sg_event_id="x" * 101),
        _event("click", other, 3, timestamp=10**30),
        _event("click", other, 4, url="https://example.org/\x00"),
        _event("click", other, 5, timestamp=1e30),
        _event(
            "click", other, 6, nested=json.loads("[" * 600 + "]" * 600)
        ),  # deeper than this stack
        "not an event",
    ]
    events = [*bad, _event("bounce", bounced, reason="550 no such user")]
    response = post(webhook_client, events)
    assert response.status_code == 200
    assert response.json() == {"received": 8, "new": 8, "rejected": 7}
    assert subscribers.get_by_email(session, bounced.email).status == "bounced"
    rows = _rows(session)
    rejected = [r for r in rows if r.event == "rejected"]
    assert len(rejected) == 7 and all(
        r.email is None
        and r.error
        and set(r.payload) == {"rejected"}
        and r.processed_at is not None
        for r in rejected
    )
    assert post(webhook_client, events).json() == {
        "received": 8,
        "new": 0,
        "rejected": 7,
    }  # a retry adds nothing


def test_nan_and_a_hundred_digit_number_reject_their_event_not_the_post(
    webhook_client, session, deliveries
):
    d = deliveries[0]
    good = json.dumps(_event("delivered", d))
    body = f'[{{"event": "open", "timestamp": NaN}}, {{"event": "open", "n": {"9" * 200}}}, {good}]'.encode()
    response = post(webhook_client, None, body=body)
    assert response.status_code == 200 and response.json()["rejected"] == 2
    assert [r.event for r in _rows(session)].count("delivered") == 1


def test_an_overflowing_or_infinite_number_rejects_its_event_not_the_post(
    webhook_client, session, deliveries
):
    d = deliveries[0]
    good = json.dumps(_event("delivered", d))
    odd = [
        '{"event": "open", "n": 1e999}',
        '{"event": "open", "n": -1e999}',
        '{"event": "open", "timestamp": 1e999}',
        '{"event": "open", "n": [Infinity]}',
        '{"event": "open", "n": {"m": -Infinity}}',
    ]
    body = f"[{', '.join(odd)}, {good}]".encode()
    response = post(webhook_client, None, body=body)
    assert response.status_code == 200 and response.json()["rejected"] == len(odd)
    assert [r.event for r in _rows(session)].count("delivered") == 1


@pytest.mark.parametrize("stamp", ["²²²", "¹²³", "9" * 5000])
def test_a_timestamp_header_of_other_digits_is_a_4xx(webhook_client, stamp):
    # "²" passes str.isdigit() and fails int(); latin-1 is how a server reads header bytes
    status = _asgi(webhook_client.app, _signed_headers(stamp.encode("latin-1")), iter([b"[]"]))
    assert 400 <= status < 500


def test_late_events_for_an_erased_address_keep_nothing_personal(
    webhook_client, session, deliveries
):
    d = deliveries[0]
    click = _event(
        "click", d, 7, ip="203.0.113.9", url="https://news.example.com/s/1", useragent="Mozilla/5.0"
    )
    address, delivery_id = d.email, d.id
    assert privacy.erase(session, address)
    session.commit()
    assert post(webhook_client, [click]).status_code == 200
    (row,) = _rows(session)
    assert row.email is None and set(row.payload) <= privacy.EVENT_KEYS_KEPT
    assert address not in json.dumps(row.payload) and "203.0.113.9" not in json.dumps(row.payload)
    assert row.delivery_id == delivery_id  # still counted for the issue


def test_a_bounced_subscriber_on_file_keeps_the_events_data(webhook_client, session, deliveries):
    d = deliveries[0]
    post(
        webhook_client, [_event("bounce", d, reason="550 no such user")]
    )  # listed, but still on file
    post(webhook_client, [_event("click", d, 8, url="https://news.example.com/s/1")])
    assert [r.email for r in _rows(session)] == [d.email, d.email]
