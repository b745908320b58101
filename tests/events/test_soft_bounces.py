"""Soft and hard bounces, read as SendGrid sends them: `bounce` of type `bounce` suppresses at once; of
type `blocked` only after MAILER_SOFT_BOUNCE_LIMIT issues in a row; `deferred` is no bounce at all."""

import pytest
from sqlalchemy import select

from mailer.db import utcnow
from mailer.delivery.models import Delivery
from mailer.events.apply import apply_pending
from mailer.events.store import store
from subscribers import changes
from subscribers import service as subscribers
from subscribers.models import Change

ISSUES = range(1, 9)


@pytest.fixture
def reader(session):
    sub, _ = subscribers.add(session, "reader@example.com", "en", confirmed=True)
    session.commit()
    return sub


@pytest.fixture
def ledger(session, reader):
    """The reader's delivery of each of eight issues (the ledger holds no foreign keys)."""
    rows = {
        n: Delivery(issue_id=n, edition_id=n, subscriber_id=reader.id, email=reader.email)
        for n in ISSUES
    }
    session.add_all(rows.values())
    session.commit()
    return rows


def _event(kind, delivery, n=0, **extra):
    return {
        "event": kind,
        "email": delivery.email,
        "timestamp": 1800000000 + delivery.issue_id,
        "sg_event_id": f"{kind}-{delivery.id}-{n}",
        "issue_id": str(delivery.issue_id),
        "delivery_id": str(delivery.id),
        **extra,
    }


def blocked(delivery, n=0):
    return _event("bounce", delivery, n, type="blocked", status="4.7.1", reason="421 try later")


def _apply(session, settings, events):
    store(session, events, utcnow())
    apply_pending(session, utcnow(), settings)
    session.commit()
    session.expire_all()


def _status(session, reader):
    return subscribers.get(session, reader.id).status


def test_a_soft_bounce_suppresses_only_at_the_third_issue_in_a_row(
    session, settings, reader, ledger
):
    _apply(session, settings, [blocked(ledger[1])])
    assert _status(session, reader) == "active"
    _apply(session, settings, [blocked(ledger[2])])
    assert _status(session, reader) == "active"
    _apply(session, settings, [blocked(ledger[3])])
    assert _status(session, reader) == "bounced"
    history = session.scalars(
        select(Change).where(Change.subscriber_id == reader.id).order_by(Change.id)
    ).all()
    assert [(c.action, c.source) for c in history][-1] == ("bounced", "webhook")
    assert changes.english(history[-1].detail) == "soft bounces: 3 issues in a row"


def test_a_delivered_issue_between_starts_the_count_again(session, settings, reader, ledger):
    _apply(session, settings, [blocked(ledger[1]), blocked(ledger[2])])
    _apply(session, settings, [_event("delivered", ledger[3])])
    _apply(session, settings, [blocked(ledger[4]), blocked(ledger[5])])
    assert _status(session, reader) == "active"
    _apply(session, settings, [blocked(ledger[6])])
    assert _status(session, reader) == "bounced"


def test_a_hard_bounce_suppresses_at_once(session, settings, reader, ledger):
    _apply(session, settings, [_event("bounce", ledger[1], type="bounce", status="5.1.1")])
    assert _status(session, reader) == "bounced"


def test_deferred_is_no_bounce(session, settings, reader, ledger):
    _apply(session, settings, [_event("deferred", ledger[n], attempt="3") for n in ISSUES])
    assert _status(session, reader) == "active"
    assert subscribers.get(session, reader.id).soft_bounces == 0


def test_an_event_twice_and_an_issue_twice_count_once(session, settings, reader, ledger):
    # SendGrid retries a post (the same sg_event_id), and one issue may bring several soft bounces
    _apply(session, settings, [blocked(ledger[1]), blocked(ledger[1], 1), blocked(ledger[1], 2)])
    _apply(session, settings, [blocked(ledger[2])])
    _apply(session, settings, [blocked(ledger[2]), blocked(ledger[2], 1)])
    assert _status(session, reader) == "active"
    assert subscribers.get(session, reader.id).soft_bounces == 2


def test_late_events_change_nothing_a_later_issue_showed(session, settings, reader, ledger):
    _apply(session, settings, [blocked(ledger[1]), blocked(ledger[2])])
    _apply(session, settings, [_event("delivered", ledger[1])])  # late, for an earlier issue
    assert subscribers.get(session, reader.id).soft_bounces == 2
    _apply(session, settings, [_event("delivered", ledger[4])])
    _apply(session, settings, [blocked(ledger[3])])  # late, before the issue delivered
    assert subscribers.get(session, reader.id).soft_bounces == 0
    # events of one chunk in any order: the issues decide
    _apply(
        session, settings, [blocked(ledger[7]), _event("delivered", ledger[6]), blocked(ledger[5])]
    )
    assert subscribers.get(session, reader.id).soft_bounces == 1


def test_the_limit_is_a_setting(session, settings, reader, ledger):
    two = settings.model_copy(update={"soft_bounce_limit": 2})
    _apply(session, two, [blocked(ledger[1])])
    assert _status(session, reader) == "active"
    _apply(session, two, [blocked(ledger[2])])
    assert _status(session, reader) == "bounced"
