from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime, utcnow

LANGS = ("ko", "en", "both")


class Status(StrEnum):
    PENDING = "pending"  # awaiting double opt-in
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"  # suppression: nothing silently undoes it
    COMPLAINED = "complained"  # suppression: nothing silently undoes it


SUPPRESSED = frozenset({Status.BOUNCED, Status.COMPLAINED})


class Subscriber(Base):
    __tablename__ = "subscribers"
    __table_args__ = (
        CheckConstraint("lang IN ('ko', 'en', 'both')", name="lang"),
        CheckConstraint(
            "status IN ('pending', 'active', 'unsubscribed', 'bounced', 'complained')", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Normalized (see subscribers.emails.normalize) so uniqueness is case-insensitive.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    lang: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16), default=Status.PENDING, index=True)
    consent_source: Mapped[str] = mapped_column(String(32), default="cli")
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_ip: Mapped[str | None] = mapped_column(String(45))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def as_dict(self) -> dict:
        iso = lambda d: d.isoformat() if d else None
        return {
            "email": self.email,
            "lang": self.lang,
            "status": self.status,
            "consent_source": self.consent_source,
            "consent_at": iso(self.consent_at),
            "consent_ip": self.consent_ip,
            "confirmed_at": iso(self.confirmed_at),
            "unsubscribed_at": iso(self.unsubscribed_at),
            "created_at": iso(self.created_at),
        }
