from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from mailer.db import Base, UTCDateTime, utcnow
from mailer.delivery.models import BigId


class WebhookEvent(Base):
    """One SendGrid event, stored raw before it is acted on; sg_event_id makes retries harmless.

    On PostgreSQL the table is partitioned by issue (mailer.partitions), and a key must hold the
    partition key: the dedupe key is (issue_id, sg_event_id) there, NULLs not distinct, which holds the
    same as sg_event_id alone (a retried event carries the same issue id), and there is no primary key
    (its columns may not be NULL) but a unique (id, issue_id)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("sg_event_id").ddl_if(dialect="sqlite"),
        Index("ix_webhook_events_issue_id", "issue_id").ddl_if(dialect="sqlite"),
        UniqueConstraint("issue_id", "sg_event_id", postgresql_nulls_not_distinct=True).ddl_if(
            dialect="postgresql"
        ),
        UniqueConstraint("id", "issue_id", postgresql_nulls_not_distinct=True).ddl_if(
            dialect="postgresql"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sg_event_id: Mapped[str] = mapped_column(String(100))
    event: Mapped[str] = mapped_column(String(32), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payload: Mapped[dict] = mapped_column(JSON)
    # Our custom_args, lifted out of the payload so per-issue stats are one indexed query; no foreign
    # keys: an event may name a delivery since erased, and is kept all the same.
    issue_id: Mapped[int | None] = mapped_column(Integer)
    delivery_id: Mapped[int | None] = mapped_column(BigId)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    error: Mapped[str | None] = mapped_column(Text)


# A subscriber's events (the desk's page, a GDPR export or erasure) by address, whatever its case:
# without it each of those reads every event kept. The address alone (no id): PostgreSQL keeps one entry
# per address for all its rows, a third of the size of one per event; an address's few rows are sorted
# after they are read (migration 0030).
Index("ix_webhook_events_email_lower", func.lower(WebhookEvent.email))


class IssueCounts(Base):
    """An issue's deliveries by language and status, and its stats, as counted at counted_at: what the
    dashboard and /metrics show, so that a page or a scrape never counts a million rows."""

    __tablename__ = "issue_counts"

    issue_id: Mapped[int] = mapped_column(
        ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True
    )
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deliveries: Mapped[dict] = mapped_column(JSON)  # {lang: {delivery status: n}}
    stats: Mapped[dict] = mapped_column(JSON)  # {lang: {stat: n}}, as issue_stats()
    # Set when retention first removes the issue's raw rows (events or ledger): from then on these counts
    # and the issue's aggregates (IssueHour, IssueLink) are final, and nothing counts the issue again.
    final_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IssueHour(Base):
    """Events of an edition by kind and by whole hour after the edition started, rolled up with the
    issue's counts: what the report's hourly chart draws once the raw events are gone."""

    __tablename__ = "issue_hours"

    issue_id: Mapped[int] = mapped_column(
        ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True
    )
    lang: Mapped[str] = mapped_column(String(4), primary_key=True)
    event: Mapped[str] = mapped_column(String(32), primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    events: Mapped[int] = mapped_column(Integer)


class IssueLink(Base):
    """Readers (deliveries) who clicked a link of an edition, rolled up with the issue's counts: the
    clicked URL lives only in the raw event payload, which retention removes."""

    __tablename__ = "issue_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"), index=True)
    lang: Mapped[str] = mapped_column(String(4))
    url: Mapped[str] = mapped_column(Text)
    clicks: Mapped[int] = mapped_column(Integer)
