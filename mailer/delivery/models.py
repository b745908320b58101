from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    case,
)
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime, one_of, utcnow

# BIGINT on PostgreSQL (a million rows an issue adds up); SQLite needs INTEGER for its rowid alias.
BigId = BigInteger().with_variant(Integer, "sqlite")
FILLFACTOR = 50


class BatchStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # leased by a worker until leased_until
    ACCEPTED = "accepted"
    RETRYING = "retrying"
    UNKNOWN = "unknown"  # request sent, answer lost: reconcile before resending
    FAILED = "failed"
    CANCELLED = "cancelled"


class DeliveryStatus(StrEnum):
    # No evidence of its own yet. In an `accepted` batch that means sent: the batch's acceptance is the
    # record (see shown_status), and a row changes only on its own evidence (invalid, webhook events).
    QUEUED = "queued"
    SENT = "sent"  # accepted by the provider: its `processed` event (or, as shown, its batch's 202)
    INVALID = "invalid"  # refused by the provider for its address
    FAILED = "failed"
    CANCELLED = "cancelled"  # the issue was cancelled before this recipient's batch went out
    SUPPRESSED = "suppressed"  # no longer active when the batch went out: unsubscribed, bounced, complained, erased
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"
    DROPPED = "dropped"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


D = DeliveryStatus
# How far a delivery has got. Webhook events arrive out of order and more than once, so a status only
# ever moves to a higher rank: a late `processed` never undoes `delivered`.
DELIVERY_RANK = {
    D.QUEUED: 0,
    D.FAILED: 0,
    D.CANCELLED: 0,
    D.SUPPRESSED: 0,
    D.INVALID: 0,
    D.SENT: 1,
    D.DEFERRED: 2,
    D.DELIVERED: 3,
    D.OPENED: 4,
    D.CLICKED: 5,
    D.UNSUBSCRIBED: 6,
    D.DROPPED: 7,
    D.BOUNCED: 7,
    D.COMPLAINED: 8,
}


def below(status: DeliveryStatus) -> list[str]:
    """The statuses a delivery may move from to reach `status`."""
    return [s for s, rank in DELIVERY_RANK.items() if rank < DELIVERY_RANK[status]]


class Batch(Base):
    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), index=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.PENDING, index=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Committed just before each request of the lease goes out (cleared by the next lease): a lapsed lease
    # without it never sent anything, and its batch is sent again at once instead of reconciled.
    request_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a probe last went out to see the webhook stream pass this batch's lost answer (events/reconcile.py)
    probe_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Recipients of the batch that will not be sent, counted as they are found, so that progress reads the
    # batches (one row per 1,000 recipients) instead of counting the ledger: suppressed at send time, and
    # refused by the provider for their address (counted as failed).
    suppressed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    invalid: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (one_of("status", BatchStatus),)


class Delivery(Base):
    """The ledger: one row per (issue, subscriber), written before anything is sent.

    On PostgreSQL it is partitioned by issue (mailer.partitions), its primary key (id, issue_id).
    Its references carry no foreign keys: PostgreSQL checks one per row inserted, and four of them cost
    15 of the 20 seconds a 1M-row ledger took. Every value is copied from rows of the same transaction,
    and the one delete that touches them (GDPR erasure, mailer.events.privacy) clears them itself.
    """

    __tablename__ = "deliveries"
    # Half-full pages: a row's status changes (sent, delivered, opened...) fit on its own page, so
    # PostgreSQL updates it in place without touching the indexes: 1.2 instead of 5.8 us a row.
    # (It applies to pages written after migration 0006; older ledger rows keep their full pages.)
    __table_args__ = (
        UniqueConstraint("issue_id", "subscriber_id"),
        {"postgresql_with": {"fillfactor": FILLFACTOR}},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    issue_id: Mapped[int] = mapped_column(Integer)
    edition_id: Mapped[int] = mapped_column(Integer)
    # NULL once the subscriber is erased (GDPR): the counts stay, the person goes.
    subscriber_id: Mapped[int | None] = mapped_column(Integer)
    batch_id: Mapped[int | None] = mapped_column(BigId, index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.QUEUED)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def shown_status():
    """A delivery's status as counted and shown (a query must join Batch on Delivery.batch_id): a queued
    delivery of an accepted batch was sent. Writing `sent` on a million rows at each acceptance would
    double the database's work during a send, for a fact one batch row already holds."""
    return case(
        (
            and_(Delivery.status == DeliveryStatus.QUEUED, Batch.status == BatchStatus.ACCEPTED),
            DeliveryStatus.SENT.value,
        ),
        else_=Delivery.status,
    )


class MetricCount(Base):
    """A Prometheus counter's total so far. Workers add to Redis (no database round trip on the send
    path); each scrape and each sweep moves what Redis holds into these rows (mailer.delivery.counters),
    so a Redis restart that empties it loses at most what was added since, and no total goes down."""

    __tablename__ = "metric_counts"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[float] = mapped_column(Float, default=0.0)
