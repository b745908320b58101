"""Acting on stored webhook events: each one a state transition on a delivery (and, for bounces,
complaints and unsubscribes, on the subscriber). Safe to run twice; order of arrival does not matter."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailer.delivery.models import Delivery, DeliveryStatus, below
from mailer.events.models import WebhookEvent

log = logging.getLogger(__name__)
BATCH = 5000

DELIVERY_EFFECT = {
    "processed": DeliveryStatus.SENT,  # SendGrid has it: the evidence that reconciles a lost answer
    "deferred": DeliveryStatus.DEFERRED,
    "delivered": DeliveryStatus.DELIVERED,
    "open": DeliveryStatus.OPENED,
    "click": DeliveryStatus.CLICKED,
    "bounce": DeliveryStatus.BOUNCED,
    "blocked": DeliveryStatus.BOUNCED,
    "dropped": DeliveryStatus.DROPPED,
    "spamreport": DeliveryStatus.COMPLAINED,
    "unsubscribe": DeliveryStatus.UNSUBSCRIBED,
    "group_unsubscribe": DeliveryStatus.UNSUBSCRIBED,
}


def _delivery_id(payload: dict) -> int | None:
    value = payload.get("delivery_id")  # our custom_args arrive flattened into the event
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def apply_pending(session: Session, now: datetime, limit: int = BATCH) -> int:
    """Apply up to `limit` stored, unapplied events; returns how many were applied."""
    events = session.scalars(
        select(WebhookEvent).where(WebhookEvent.processed_at.is_(None)).order_by(WebhookEvent.id).limit(limit)
    ).all()
    moves: dict[DeliveryStatus, set[int]] = defaultdict(set)
    for event in events:
        status = DELIVERY_EFFECT.get(event.event)
        delivery_id = _delivery_id(event.payload)
        if status and delivery_id:
            moves[status].add(delivery_id)
        event.processed_at = now
    for status, ids in moves.items():
        ordered = sorted(ids)
        for start in range(0, len(ordered), 1000):
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ordered[start:start + 1000]), Delivery.status.in_(below(status)))
                .values(status=status, updated_at=now)
                .execution_options(synchronize_session=False)
            )
    session.flush()
    return len(events)
