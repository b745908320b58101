"""An issue's bounces and complaints, one row per event, for the desk: the address, hard or soft, the
reason in words the desk can translate, the date and the edition.

Read from the stored webhook events, which retention keeps MAILER_EVENT_RETENTION_DAYS: an older issue
has its counts (the report) but no list, and the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.delivery.models import Delivery
from mailer.events.apply import is_soft_bounce
from mailer.events.models import WebhookEvent
from mailer.issues.models import Edition, Issue

EVENTS = ("bounce", "blocked", "dropped", "spamreport")
LIMIT = 500  # rows a page shows; the page says how many there are in all

# SendGrid's bounce_classification, and what a drop's reason names: a key each the desk translates
CLASSIFICATIONS = {
    "invalid address": "invalid_address",
    "mailbox unavailable": "mailbox_unavailable",
    "technical": "technical",
    "content": "content",
    "reputation": "reputation",
    "frequency or volume": "volume",
    "unclassified": "unclassified",
}
DROPPED_REASONS = {
    "bounced address": "known_bounce",
    "spam reporting address": "known_complaint",
    "unsubscribed address": "known_unsubscribe",
    "invalid": "invalid_address",
}


@dataclass(frozen=True)
class BounceRow:
    email: str
    kind: str  # hard, soft, complaint, dropped
    reason: str  # a key of CLASSIFICATIONS' or DROPPED_REASONS' values, or "unclassified"
    words: str  # the provider's own words, shown as written
    at: datetime | None
    lang: str | None  # the edition, when the ledger still names it
    subscriber_id: int | None


def kind_of(event: str, payload: dict) -> str:
    if event == "spamreport":
        return "complaint"
    if event == "dropped":
        return "dropped"
    return "soft" if is_soft_bounce(event, payload) else "hard"


def reason_of(event: str, payload: dict) -> str:
    """Why, as a key: SendGrid's classification, a drop's reason, else the SMTP status's class."""
    if event == "spamreport":
        return "spam_report"
    text = str(payload.get("bounce_classification") or "").strip().lower()
    if text in CLASSIFICATIONS:
        return CLASSIFICATIONS[text]
    if event == "dropped":
        reason = str(payload.get("reason") or "").lower()
        return next((v for k, v in DROPPED_REASONS.items() if k in reason), "unclassified")
    status = str(payload.get("status") or "")
    if status.startswith("5.1."):
        return "invalid_address"
    if status.startswith("5.2."):
        return "mailbox_unavailable"
    if status.startswith("5.7."):
        return "reputation"
    if status.startswith("4."):
        return "technical"
    return "unclassified"


def issue_bounces(
    session: Session, issue: Issue, limit: int = LIMIT
) -> tuple[list[BounceRow], int]:
    """The issue's bounces and complaints, newest first (at most `limit`), and how many in all."""
    where = (WebhookEvent.issue_id == issue.id, WebhookEvent.event.in_(EVENTS))
    total = session.scalar(select(func.count()).select_from(WebhookEvent).where(*where)) or 0
    rows = session.execute(
        select(WebhookEvent, Delivery.subscriber_id, Edition.lang)
        .outerjoin(Delivery, Delivery.id == WebhookEvent.delivery_id)
        .outerjoin(Edition, Edition.id == Delivery.edition_id)
        .where(*where)
        .order_by(WebhookEvent.occurred_at.desc(), WebhookEvent.id.desc())
        .limit(limit)
    ).all()
    return [
        BounceRow(
            email=event.email or "",
            kind=kind_of(event.event, event.payload or {}),
            reason=reason_of(event.event, event.payload or {}),
            words=str((event.payload or {}).get("reason") or ""),
            at=event.occurred_at or event.received_at,
            lang=lang,
            subscriber_id=subscriber_id,
        )
        for event, subscriber_id, lang in rows
    ], int(total)
