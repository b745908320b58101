"""The issue's aggregates: what the report draws from the raw webhook events (links clicked, events hour by
hour), kept compact so that the report outlives the events and the ledger, which retention prunes.

Rolled up with the issue's counts (stats.refresh_counts), from the raw rows, replacing the issue's previous
aggregates: running it twice gives the same rows, and the report reads the same moment's figures in its
rates, links and chart.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, cast, delete, distinct, func, insert, literal, select
from sqlalchemy.orm import Session

from mailer.db import UTCDateTime
from mailer.delivery.models import Delivery
from mailer.events.models import IssueHour, IssueLink, WebhookEvent
from mailer.issues.models import Edition

# what the report's chart draws: the other kinds hour by hour would double the rollup's time (1.6M
# instead of 0.6M events of a 1M-reader issue), at each of beat's refreshes, for no page
HOURLY_EVENTS = ("open", "click")


def _hours_after(session: Session, column, start: datetime):
    """Whole hours from `start` to `column`, in the database (PostgreSQL and SQLite say it differently)."""
    start_value = literal(start, UTCDateTime)
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column - start_value) / 3600), Integer)
    return cast((func.julianday(column) - func.julianday(start_value)) * 24, Integer)


def _links(session: Session, edition: Edition) -> list[dict]:
    url = WebhookEvent.payload["url"].as_string()
    clicks = func.count(distinct(WebhookEvent.delivery_id))
    rows = session.execute(
        select(url, clicks)
        .join(Delivery, Delivery.id == WebhookEvent.delivery_id)
        .where(
            WebhookEvent.issue_id == edition.issue_id,
            WebhookEvent.event == "click",
            Delivery.issue_id == edition.issue_id,  # PostgreSQL: one partition of each
            Delivery.edition_id == edition.id,
            url.is_not(None),
        )
        .group_by(url)
    )
    return [
        {"issue_id": edition.issue_id, "lang": edition.lang, "url": u, "clicks": n} for u, n in rows
    ]


def _hours(session: Session, edition: Edition) -> list[dict]:
    if edition.started_at is None:
        return []
    hour = _hours_after(session, WebhookEvent.occurred_at, edition.started_at)
    rows = session.execute(
        select(WebhookEvent.event, hour, func.count())
        .join(Delivery, Delivery.id == WebhookEvent.delivery_id)
        .where(
            WebhookEvent.issue_id == edition.issue_id,
            WebhookEvent.event.in_(HOURLY_EVENTS),
            Delivery.issue_id == edition.issue_id,
            Delivery.edition_id == edition.id,
            WebhookEvent.occurred_at >= edition.started_at,
        )
        .group_by(WebhookEvent.event, hour)
    )
    summed: dict[tuple[str, int], int] = {}
    for event, h, n in rows:  # SQLite's rounding may put two groups on one hour
        if h is not None and h >= 0:
            summed[(event, h)] = summed.get((event, h), 0) + n
    return [
        {"issue_id": edition.issue_id, "lang": edition.lang, "event": e, "hour": h, "events": n}
        for (e, h), n in sorted(summed.items())
    ]


def rollup_issue(session: Session, issue_id: int) -> None:
    """Replace the issue's aggregates with those of its raw events now."""
    editions = session.scalars(select(Edition).where(Edition.issue_id == issue_id)).all()
    links = [row for edition in editions for row in _links(session, edition)]
    hours = [row for edition in editions for row in _hours(session, edition)]
    session.execute(delete(IssueLink).where(IssueLink.issue_id == issue_id))
    session.execute(delete(IssueHour).where(IssueHour.issue_id == issue_id))
    if links:
        session.execute(insert(IssueLink), links)
    if hours:
        session.execute(insert(IssueHour), hours)
