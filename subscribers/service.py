"""Subscription changes. Other packages call these; none reaches into the table by hand."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.db import utcnow
from subscribers.emails import normalize
from subscribers.models import LANGS, SUPPRESSED, Status, Subscriber


class SubscriberError(ValueError):
    pass


def get_by_email(session: Session, email: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(Subscriber.email == normalize(email)))


def add(
    session: Session, email: str, lang: str, *, confirmed: bool = False, source: str = "cli",
    ip: str | None = None,
) -> tuple[Subscriber, bool]:
    """Add a subscriber, or return the existing one unchanged. Returns (subscriber, created)."""
    if lang not in LANGS:
        raise SubscriberError(f"language must be one of {', '.join(LANGS)}, not {lang!r}")
    address = normalize(email)
    existing = session.scalar(select(Subscriber).where(Subscriber.email == address))
    if existing is not None:
        return existing, False
    now = utcnow()
    sub = Subscriber(
        email=address, lang=lang, consent_source=source, consent_at=now, consent_ip=ip,
        status=Status.ACTIVE if confirmed else Status.PENDING,
        confirmed_at=now if confirmed else None,
    )
    session.add(sub)
    session.flush()
    return sub, True


def unsubscribe(session: Session, subscriber_id: int) -> Subscriber | None:
    """Idempotent; a suppressed address stays suppressed (it is already not mailed)."""
    sub = session.get(Subscriber, subscriber_id)
    if sub is None:
        return None
    if sub.status not in SUPPRESSED and sub.status != Status.UNSUBSCRIBED:
        sub.status = Status.UNSUBSCRIBED
        sub.unsubscribed_at = utcnow()
    return sub


def counts(session: Session) -> dict[tuple[str, str], int]:
    """Subscribers by (lang, status)."""
    rows = session.execute(
        select(Subscriber.lang, Subscriber.status, func.count()).group_by(Subscriber.lang, Subscriber.status)
    )
    return {(lang, status): n for lang, status, n in rows}
