"""The issue's stats and aggregates counted in one pass over its events (rollup.tally_issue) are the
figures the separate queries counted before: per kind and per clicked link the deliveries, per hour
after each edition started the events. The reference below is those queries as they were."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import distinct, func, select

from mailer.db import utcnow
from mailer.delivery.models import Delivery
from mailer.events.models import IssueHour, IssueLink, WebhookEvent
from mailer.events.rollup import HOURLY_EVENTS, _hours_after, tally_issue
from mailer.events.stats import EVENT_STAT, issue_stats, refresh_counts
from mailer.events.store import store
from mailer.issues.models import Edition
from tests.events.test_retention import _apply, _deliveries, _event, _sent_issue

A, B = "https://news.example.com/a", "https://news.example.com/b"


def _reference(session, issue_id):
    """(stats, links, hours) as the per-query code counted them: the stats in one query, then each
    edition's links and hours in one query each."""
    stats = session.execute(
        select(Edition.lang, WebhookEvent.event, func.count(distinct(WebhookEvent.delivery_id)))
        .join(Delivery, Delivery.id == WebhookEvent.delivery_id)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(
            WebhookEvent.issue_id == issue_id,
            Delivery.issue_id == issue_id,
            WebhookEvent.event.in_(list(EVENT_STAT)),
        )
        .group_by(Edition.lang, WebhookEvent.event)
    ).all()
    links, hours = [], {}
    url = WebhookEvent.payload["url"].as_string()
    for edition in session.scalars(select(Edition).where(Edition.issue_id == issue_id)):
        for u, n in session.execute(
            select(url, func.count(distinct(WebhookEvent.delivery_id)))
            .join(Delivery, Delivery.id == WebhookEvent.delivery_id)
            .where(
                WebhookEvent.issue_id == issue_id,
                WebhookEvent.event == "click",
                Delivery.issue_id == issue_id,
                Delivery.edition_id == edition.id,
                url.is_not(None),
            )
            .group_by(url)
        ):
            links.append({"issue_id": issue_id, "lang": edition.lang, "url": u, "clicks": n})
        if edition.started_at is None:
            continue
        hour = _hours_after(session, WebhookEvent.occurred_at, edition.started_at)
        for event, h, n in session.execute(
            select(WebhookEvent.event, hour, func.count())
            .join(Delivery, Delivery.id == WebhookEvent.delivery_id)
            .where(
                WebhookEvent.issue_id == issue_id,
                WebhookEvent.event.in_(HOURLY_EVENTS),
                Delivery.issue_id == issue_id,
                Delivery.edition_id == edition.id,
                WebhookEvent.occurred_at >= edition.started_at,
            )
            .group_by(WebhookEvent.event, hour)
        ):
            if h is not None and h >= 0:
                key = (edition.lang, event, h)
                hours[key] = hours.get(key, 0) + n
    return (
        sorted(stats),
        sorted((r["lang"], r["url"], r["clicks"]) for r in links),
        sorted((lang, e, h, n) for (lang, e, h), n in hours.items()),
    )


def _counted(tally):
    return (
        sorted(tally.stats),
        sorted((r["lang"], r["url"], r["clicks"]) for r in tally.links),
        sorted((r["lang"], r["event"], r["hour"], r["events"]) for r in tally.hours),
    )


def test_one_pass_counts_what_the_separate_queries_counted(
    session, ingested, subscribers_by_lang, runtime, settings
):
    issue = _sent_issue(session, runtime)
    ko, en = _deliveries(session, issue)
    both = [
        d
        for d, lang in session.execute(
            select(Delivery, Edition.lang)
            .join(Edition, Edition.id == Delivery.edition_id)
            .where(Delivery.issue_id == issue.id)
        )
        if lang == "both"
    ]
    start = session.scalar(select(Edition.started_at).where(Edition.issue_id == issue.id))
    at = start + timedelta(minutes=5)
    later = start + timedelta(hours=3, minutes=10)
    events = [_event("processed", d, start) for d in ko + en + both]
    events += [_event("delivered", d, at) for d in ko + en + both]
    events += [
        _event("open", ko[0], at, 1),
        _event("open", ko[0], later, 2),  # a second open: one reader, two events
        _event("open", ko[1], later),
        _event("open", ko[2], at, 1, sg_machine_open=True),
        _event("open", ko[3], start - timedelta(hours=2), 1),  # before the edition started
        _event("click", ko[1], at, 1, url=A),
        _event("click", ko[1], later, 2, url=A),  # clicked twice: one reader of A
        _event("click", ko[2], later, 1, url=A),
        _event("click", ko[2], later, 2, url=B),
        _event("click", ko[3], later, 1),  # no URL: a click, but no link's
        _event("click", en[0], at, 1, url=A),
        _event("bounce", en[1], at),
        _event("dropped", en[2], at, reason="Bounced Address"),
        _event("spamreport", both[0], later),
        _event("unsubscribe", both[1], later),
        _event("deferred", both[1], at),  # a kind the stats leave out
    ]
    stray = SimpleNamespace(email="stray@example.com", id=10**9, issue_id=issue.id)
    events.append(_event("open", stray, at, 7))  # no delivery of ours: counted nowhere
    store(session, events, utcnow())
    _apply(session, utcnow())
    session.commit()

    tally = tally_issue(session, issue.id, list(EVENT_STAT))
    assert _counted(tally) == _reference(session, issue.id)
    _, links, hours = _counted(tally)
    assert links == [("en", A, 1), ("ko", A, 2), ("ko", B, 1)]
    assert hours == [
        ("en", "click", 0, 1),
        ("ko", "click", 0, 1),
        ("ko", "click", 3, 4),
        ("ko", "open", 0, 1),
        ("ko", "open", 3, 2),
    ]
    stats = issue_stats(session, issue.id)
    assert stats["ko"] == {
        "sent": 4,
        "delivered": 4,
        "bounced": 0,
        "complained": 0,
        "opened": 3,
        "clicked": 3,
        "unsubscribed": 0,
        "machine_opened": 1,
    }
    assert (stats["en"]["bounced"], stats["en"]["clicked"]) == (2, 1)
    assert (stats["both"]["complained"], stats["both"]["unsubscribed"]) == (1, 1)

    # beat's refresh stores what the tally counted
    refresh_counts(session, issue.id, utcnow())
    session.commit()
    kept_links = session.execute(
        select(IssueLink.lang, IssueLink.url, IssueLink.clicks).where(
            IssueLink.issue_id == issue.id
        )
    ).all()
    kept_hours = session.execute(
        select(IssueHour.lang, IssueHour.event, IssueHour.hour, IssueHour.events).where(
            IssueHour.issue_id == issue.id
        )
    ).all()
    assert sorted(kept_links) == links and sorted(kept_hours) == hours
