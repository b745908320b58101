"""Per-issue stats by edition language, from the ledger (sent) and the webhook events (the rest).

Each figure counts deliveries, not events: a reader who opens twice is one open.
"""

from __future__ import annotations

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from mailer.delivery.models import DELIVERY_RANK, Delivery, DeliveryStatus
from mailer.events.models import WebhookEvent
from mailer.issues.models import Edition

STATS = ("sent", "delivered", "bounced", "complained", "opened", "clicked", "unsubscribed")
EVENT_STAT = {
    "delivered": "delivered", "bounce": "bounced", "blocked": "bounced", "dropped": "bounced",
    "spamreport": "complained", "open": "opened", "click": "clicked",
    "unsubscribe": "unsubscribed", "group_unsubscribe": "unsubscribed",
}
SENT = [s for s, rank in DELIVERY_RANK.items() if rank >= DELIVERY_RANK[DeliveryStatus.SENT]]


def issue_stats(session: Session, issue_id: int) -> dict[str, dict[str, int]]:
    """{edition lang: {stat: deliveries}}, every stat present (zeros included)."""
    langs = session.scalars(select(Edition.lang).where(Edition.issue_id == issue_id)).all()
    stats = {lang: dict.fromkeys(STATS, 0) for lang in langs}
    for lang, n in session.execute(
        select(Edition.lang, func.count()).select_from(Delivery).join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.issue_id == issue_id, Delivery.status.in_(SENT)).group_by(Edition.lang)
    ):
        stats[lang]["sent"] = n
    for lang, event, n in session.execute(
        select(Edition.lang, WebhookEvent.event, func.count(distinct(WebhookEvent.delivery_id)))
        .join(Delivery, Delivery.id == WebhookEvent.delivery_id)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(WebhookEvent.issue_id == issue_id, WebhookEvent.event.in_(list(EVENT_STAT)))
        .group_by(Edition.lang, WebhookEvent.event)
    ):
        stats[lang][EVENT_STAT[event]] += n  # bounce + blocked + dropped add up; a delivery has one of them
    return stats
