"""The transactional outbox: a mail to send, written in the same transaction as what asks for it.

A sign-up commits its subscriber and its confirmation mail together (a confirmation its welcome mail), so a broker down at that moment
loses nothing: beat's sweep queues what is still unsent once the broker is back.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime, one_of, utcnow
from mailer.langs import EDITIONS


class MailStatus(StrEnum):
    PENDING = "pending"  # to send: queued, or waiting for the sweep
    SENDING = "sending"  # claimed by a worker until claimed_until
    SENT = "sent"
    SKIPPED = (
        "skipped"  # nothing to send: the per-address limit, or a subscriber now suppressed or gone
    )
    FAILED = "failed"  # refused by the provider, its answer lost, or out of attempts


class MailKind(StrEnum):
    CONFIRMATION = (
        "confirmation"  # the sign-up's mail: confirm, or "already subscribed" with the preferences
    )
    WELCOME = (
        "welcome"  # the first confirmation's mail: what comes when, the latest issue, the way out
    )
    REENGAGE = (
        "reengage"  # "still want this?": to a reader who stopped reading (subscribers.sunset)
    )
    # No mail: SendGrid is asked to forget a bounce (DELETE /v3/suppression/bounces/{email}) once a
    # hard-bounced reader confirmed a new sign-up, recorded and retried as a mail is.
    FORGET_BOUNCE = "forget_bounce"


class OutboxMail(Base):
    __tablename__ = "outbox_mails"
    # The sweep's question (what is open and due) through a small index.
    __table_args__ = (
        one_of("status", MailStatus),
        one_of("kind", MailKind),
        one_of("lang", EDITIONS),
        Index("ix_outbox_mails_status_queued_at", "status", "queued_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    # No foreign key: an erased subscriber's mail is skipped by the sender, not a failed erase.
    subscriber_id: Mapped[int] = mapped_column(Integer)
    lang: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When it was last handed to the broker; NULL when that failed, so the next sweep queues it at once.
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
