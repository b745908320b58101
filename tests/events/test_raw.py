"""A webhook event is stored without the keys its columns hold, and given back whole from them: what
the stats and the rules read from the JSON stays in it, and a subscriber's export shows the event as
SendGrid sent it."""

from __future__ import annotations

from sqlalchemy import select

from mailer.db import utcnow
from mailer.events.models import WebhookEvent
from mailer.events.raw import LIFTED, raw
from mailer.events.store import store

SENT = {
    "email": "Reader@Example.com",
    "timestamp": 1764000000,
    "event": "open",
    "sg_event_id": "ZGVmYXVsdC0xMjM",
    "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
    "sg_machine_open": True,
    "useragent": "Mozilla/5.0",
    "ip": "203.0.113.9",
    "issue_id": "7",
    "delivery_id": "123",
    "category": ["newsletter"],
}


def _stored(session) -> list[WebhookEvent]:
    return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


def test_an_event_is_stored_without_what_its_columns_hold_and_given_back_whole(session):
    odd = {  # values the columns cannot give back as sent: kept in the JSON
        "event": "click",
        "email": "other@example.com",
        "timestamp": 1764000000.5,
        "issue_id": 7,
        "url": "https://news.example.com/a",
    }
    assert store(session, [SENT, odd], utcnow()).new == 2
    session.commit()
    machine, click = _stored(session)
    assert machine.event == "machine_open" and machine.email == "Reader@Example.com"
    assert not set(LIFTED) & set(machine.payload)
    assert machine.payload["sg_machine_open"] is True and machine.payload["ip"] == "203.0.113.9"
    assert raw(machine) == SENT
    assert set(click.payload) == {"timestamp", "issue_id", "url"}
    assert raw(click) == odd  # its id was ours (a hash): not given back as SendGrid's
    assert click.sg_event_id.startswith("h:")
