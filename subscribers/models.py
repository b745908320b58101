from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, validates

from mailer.db import Base, UTCDateTime, one_of, utcnow
from mailer.langs import EDITIONS
from subscribers import changes


class Status(StrEnum):
    PENDING = "pending"  # awaiting double opt-in
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"  # suppression: nothing silently undoes it
    COMPLAINED = "complained"  # suppression: nothing silently undoes it
    PAUSED = "paused"  # stopped reading and did not answer "still want this?" (subscribers.sunset)


SUPPRESSED = frozenset({Status.BOUNCED, Status.COMPLAINED})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class Subscriber(Base):
    __tablename__ = "subscribers"
    __table_args__ = (
        one_of("lang", EDITIONS),
        one_of("status", Status),
        # the desk's list, newest first: a page is read from the index, not by sorting everyone
        Index("ix_subscribers_created_at_id", "created_at", "id"),
        # the list of one language: its count and its pages read that language's part alone
        Index("ix_subscribers_lang_created_at_id", "lang", "created_at", "id"),
        # the desk's search by a fragment of an address (LIKE '%...%'), on PostgreSQL (pg_trgm)
        Index(
            "ix_subscribers_email_trgm",
            "email",
            postgresql_using="gin",
            postgresql_ops={"email": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Normalized (see subscribers.emails.normalize) so uniqueness is case-insensitive.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    lang: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16), default=Status.PENDING, index=True)
    consent_source: Mapped[str] = mapped_column(String(32), default="cli")
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_ip: Mapped[str | None] = mapped_column(String(45))
    # What an editor named as the consent's origin when importing ("sign-up sheet, book fair 2026"):
    # an import's rows are confirmed on the strength of it.
    consent_detail: Mapped[str | None] = mapped_column(String(200))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Soft bounces in a row (subscribers.bounces): how many issues bounced softly since the last one
    # delivered, and the issue the count stands at. Issue ids order the issues, so a late or repeated
    # event counts once and never undoes what a later issue showed.
    soft_bounces: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    soft_bounce_issue: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Engagement facts, kept on the subscriber as webhook events are applied, so that rules about a
    # reader's lifecycle (sunset of the unengaged) outlive the raw events and the ledger, which are pruned.
    last_delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_engaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a human open or click
    # The sunset rule's own count (subscribers.sunset): issues delivered since the last human open or
    # click, and the issue it stands at, kept here because the ledger that shows them is pruned. Issue
    # ids order the issues, so a late or repeated event counts once, as soft bounces do.
    unread_issues: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unread_issue: Mapped[int | None] = mapped_column(Integer)
    # When the one "still want this?" mail was written; cleared when they read or answer.
    # indexed: the desk counts the readers asked, a handful among a million
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    @validates("email")
    def _lower(self, _key, value: str) -> str:
        # The service normalizes fully; this keeps a hand-made row from breaking case-insensitive uniqueness.
        return value.strip().lower()

    def as_dict(self) -> dict:
        return {
            "email": self.email,
            "lang": self.lang,
            "status": self.status,
            "consent_source": self.consent_source,
            "consent_at": _iso(self.consent_at),
            "consent_ip": self.consent_ip,
            "consent_detail": self.consent_detail,
            "confirmed_at": _iso(self.confirmed_at),
            "unsubscribed_at": _iso(self.unsubscribed_at),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "last_delivered_at": _iso(self.last_delivered_at),
            "last_engaged_at": _iso(self.last_engaged_at),
            "unread_issues": self.unread_issues,
            "asked_at": _iso(self.asked_at),
        }


class Change(Base):
    """One subscription change (sign-up, confirmation, language, unsubscribe...): the consent history.

    Personal data: it goes with the subscriber when they are erased (ON DELETE CASCADE).
    """

    __tablename__ = "subscription_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(
        String(32)
    )  # web, link, one-click, cli, import, webhook, ...
    ip: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[str | None] = mapped_column(String(200))

    def as_dict(self) -> dict:
        return {
            "at": _iso(self.at),
            "action": self.action,
            "source": self.source,
            "ip": self.ip,
            "detail": changes.english(self.detail),
        }


class SuppressionReason(StrEnum):
    ERASED = "erased"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


class Suppression(Base):
    """An address that must not come back by import or by hand: only a keyed hash of it is kept."""

    __tablename__ = "suppressions"
    __table_args__ = (one_of("reason", SuppressionReason),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)  # see subscribers.suppression
    reason: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
