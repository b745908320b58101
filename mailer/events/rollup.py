"""The issue's aggregates: what the report draws from the raw webhook events (links clicked, events hour by
hour), kept compact so that the report outlives the events and the ledger, which retention prunes.

Rolled up with the issue's counts (stats.refresh_counts), from the raw rows, replacing the issue's previous
aggregates: running it twice gives the same rows, and the report reads the same moment's figures in its
rates, links and chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Integer,
    Text,
    and_,
    case,
    cast,
    delete,
    distinct,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from mailer.db import UTCDateTime
from mailer.delivery.models import Delivery
from mailer.events.models import IssueHour, IssueLink, WebhookEvent
from mailer.issues.models import Edition

# what the report's chart draws: the other kinds hour by hour would double the rollup's time (1.6M
# instead of 0.6M events of a 1M-reader issue), at each of beat's refreshes, for no page
HOURLY_EVENTS = ("open", "click")


def _hours_after(session: Session, column, start):
    """Whole hours from `start` (a moment or a column) to `column`, in the database (PostgreSQL and
    SQLite say it differently)."""
    start_value = literal(start, UTCDateTime) if isinstance(start, datetime) else start
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column - start_value) / 3600), Integer)
    return cast((func.julianday(column) - func.julianday(start_value)) * 24, Integer)


@dataclass(frozen=True)
class Tally:
    """An issue's raw events counted once, by edition language: what its stats and its aggregates
    are made of."""

    stats: list[tuple[str, str, int]]  # (lang, event, deliveries that had it)
    links: list[dict]  # IssueLink rows
    hours: list[dict]  # IssueHour rows


def tally_issue(session: Session, issue_id: int, events: list[str]) -> Tally:
    """Count the issue's raw events of the kinds `events` (which hold "open" and "click") in one
    statement: the events and the ledger are each read once, where the stats and each edition's
    links and hours read them one query each (seven passes over a 1M-reader issue's 1.6 GB of events).
    Each figure counts what it did before: deliveries per kind, deliveries per clicked URL, events
    per hour after the edition started."""
    # The issue's editions are a few: the ledger's edition id names each row's, and the edition's start
    # comes in as a constant, with no join of the editions table for each of a million events.
    editions = session.execute(
        select(Edition.id, Edition.lang, Edition.started_at).where(Edition.issue_id == issue_id)
    ).all()
    lang_of = {edition_id: lang for edition_id, lang, _ in editions}
    starts = {e: literal(at, UTCDateTime) for e, _, at in editions if at is not None}
    started = case(starts, value=Delivery.edition_id) if starts else literal(None, UTCDateTime)
    url = case((WebhookEvent.event == "click", WebhookEvent.payload["url"].as_string()))
    hourly = and_(WebhookEvent.event.in_(HOURLY_EVENTS), WebhookEvent.occurred_at >= started)
    hour = case((hourly, _hours_after(session, WebhookEvent.occurred_at, started)))
    rows = (
        select(
            Delivery.edition_id.label("edition"),
            WebhookEvent.event.label("event"),
            WebhookEvent.delivery_id.label("delivery_id"),
            url.label("url"),
            hour.label("hour"),
        )
        .join(Delivery, Delivery.id == WebhookEvent.delivery_id)
        .where(
            WebhookEvent.issue_id == issue_id,
            Delivery.issue_id == issue_id,  # PostgreSQL: one partition of each
            Delivery.edition_id.in_(list(lang_of)),
            WebhookEvent.event.in_(events),
        )
        .cte("tallied")  # read three times below: PostgreSQL makes it once
    )
    no_text, no_hour = literal(None, Text), literal(None, Integer)
    deliveries = func.count(distinct(rows.c.delivery_id))
    found = [
        (kind, lang_of[edition], event, u, h, n)
        for kind, edition, event, u, h, n in session.execute(
            union_all(
                select(
                    literal("stat"), rows.c.edition, rows.c.event, no_text, no_hour, deliveries
                ).group_by(rows.c.edition, rows.c.event),
                select(literal("link"), rows.c.edition, no_text, rows.c.url, no_hour, deliveries)
                .where(rows.c.url.is_not(None))
                .group_by(rows.c.edition, rows.c.url),
                select(
                    literal("hour"),
                    rows.c.edition,
                    rows.c.event,
                    no_text,
                    rows.c.hour,
                    func.count(),
                )
                .where(rows.c.hour.is_not(None))
                .group_by(rows.c.edition, rows.c.event, rows.c.hour),
            )
        )
    ]
    summed: dict[tuple[str, str, int], int] = {}
    for kind, lang, event, _, h, n in found:  # SQLite's rounding may put two groups on one hour
        if kind == "hour" and h >= 0:
            summed[(lang, event, h)] = summed.get((lang, event, h), 0) + n
    return Tally(
        stats=[(lang, event, n) for kind, lang, event, _, _, n in found if kind == "stat"],
        links=[
            {"issue_id": issue_id, "lang": lang, "url": u, "clicks": n}
            for kind, lang, _, u, _, n in found
            if kind == "link"
        ],
        hours=[
            {"issue_id": issue_id, "lang": lang, "event": e, "hour": h, "events": n}
            for (lang, e, h), n in sorted(summed.items())
        ],
    )


def rollup_issue(session: Session, issue_id: int, tally: Tally) -> None:
    """Replace the issue's aggregates with those of its raw events as `tally` counted them."""
    session.execute(delete(IssueLink).where(IssueLink.issue_id == issue_id))
    session.execute(delete(IssueHour).where(IssueHour.issue_id == issue_id))
    if tally.links:
        session.execute(insert(IssueLink), tally.links)
    if tally.hours:
        session.execute(insert(IssueHour), tally.hours)
