"""GDPR access and erasure across packages.

`subscribers` holds the person; the delivery ledger and the webhook events hold copies of their
address. `subscribers` may not import those packages, so the whole picture is put together here.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mailer.delivery.models import Batch, Delivery, shown_status
from mailer.events.models import WebhookEvent
from mailer.events.raw import raw
from mailer.issues.models import Edition, Issue
from subscribers import lookup, service
from subscribers.emails import normalize

# What an erased subscriber's webhook events keep: enough to deduplicate and count, nobody's data
# (the address, IP, user agent, clicked URL and bounce text go).
EVENT_KEYS_KEPT = frozenset(
    {
        "event",
        "sg_event_id",
        "sg_message_id",
        "timestamp",
        "category",
        "type",
        "bounce_classification",
        "sg_machine_open",
        "issue_id",
        "edition_id",
        "batch_id",
        "delivery_id",
    }
)


def scrub(payload: dict | None) -> dict:
    """An event as it is kept for an erased address: only the keys in EVENT_KEYS_KEPT."""
    return {k: v for k, v in (payload or {}).items() if k in EVENT_KEYS_KEPT}


def _iso(value):
    return value.isoformat() if value else None


def deliveries_of(session: Session, subscriber_id: int, limit: int | None = None) -> list[dict]:
    """The subscriber's ledger rows, oldest issue first; with `limit`, only the newest that many (the desk's
    page). Joined from the issues, so that each is one probe of the ledger's (issue, subscriber) key."""
    newest_first = session.execute(
        select(
            Issue.number,
            Edition.lang,
            shown_status(),
            Delivery.email,
            Batch.sent_at,
            Delivery.updated_at,
        )
        .join(Issue, Issue.id == Delivery.issue_id)
        .join(Edition, Edition.id == Delivery.edition_id)
        .outerjoin(Batch, Batch.id == Delivery.batch_id)
        .where(Delivery.subscriber_id == subscriber_id)
        .order_by(Issue.number.desc())
        .limit(limit)
    ).all()
    return [
        {
            "issue": number,
            "edition": lang,
            "status": status,
            "email": email,
            "sent_at": _iso(sent_at),
            "updated_at": _iso(updated_at),
        }
        for number, lang, status, email, sent_at, updated_at in reversed(newest_first)
    ]


def _events_query(address: str):
    # lower(email), as the expression index on webhook_events has it
    return (
        select(WebhookEvent)
        .where(func.lower(WebhookEvent.email) == address.lower())
        .order_by(WebhookEvent.id)
    )


def events_of(session: Session, address: str, limit: int | None = None) -> list[dict]:
    """The webhook events kept for an address, oldest first; with `limit`, only the newest that many."""
    query = _events_query(address)
    if limit is not None:
        query = query.order_by(None).order_by(WebhookEvent.id.desc()).limit(limit)
    found = list(session.scalars(query))
    if limit is not None:
        found.reverse()
    return [
        {
            "event": e.event,
            "occurred_at": _iso(e.occurred_at),
            "received_at": _iso(e.received_at),
            "payload": raw(e),
        }
        for e in found
    ]


def subscriber_report(session: Session, email: str) -> dict | None:
    """`mailer subscribers show --json`: everything held about one subscriber, or None."""
    sub = service.get_by_email(session, email)
    if sub is None:
        return None
    return {
        **lookup.personal_data(session, sub),
        "deliveries": deliveries_of(session, sub.id),
        "events": events_of(session, sub.email),
    }


def erase(session: Session, email: str) -> bool:
    """`mailer subscribers erase`: blank the copies of the address here, then subscribers.service.erase.

    Delivery rows stay (issue counts stay right) with neither address nor subscriber id. Returns whether a subscriber was on file.
    """
    address = normalize(email)
    sub = service.get_by_email(session, address)
    if sub is not None:
        session.execute(
            update(Delivery)
            .where(Delivery.subscriber_id == sub.id)
            .values(email=None, subscriber_id=None)
            .execution_options(synchronize_session=False)
        )
    for event in session.scalars(_events_query(address)):
        event.email = None
        event.payload = scrub(event.payload)
    session.flush()
    return service.erase(session, address)
