"""What the desk's reports show: rates per edition, the most-clicked links, opens and clicks hour by hour
after the send, the last issues compared, and the warnings a sender must heed.

Rates come from the stored counts (stats.stored_counts), so a page never counts a million-row ledger; the
links and the hourly figures read the issue's webhook events by its indexed issue_id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, cast, distinct, func, literal, select
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.db import UTCDateTime
from mailer.delivery.models import Delivery
from mailer.events.models import WebhookEvent
from mailer.events.stats import stored_counts
from mailer.issues.models import Issue
from mailer.issues.states import IssueStatus
from mailer.langs import EDITIONS

COMPLAINT_LIMIT = 0.001  # above 0.1% complaints mailbox providers start to filter a sender
BOUNCE_LIMIT = 0.02  # above 2% bounces the list needs cleaning
HOURS = 72
OF_SENT = frozenset({"delivered", "bounced"})  # the others are of mails delivered


@dataclass(frozen=True)
class Figures:
    """An edition's (or the whole issue's) counts, each a number of deliveries, with their rates."""

    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    complained: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    machine_opened: int = 0  # opens SendGrid marks as a machine's: in no rate, counted apart

    def rate(self, name: str) -> float | None:
        base = self.sent if name in OF_SENT else self.delivered
        return getattr(self, name) / base if base else None

    @property
    def warnings(self) -> list[str]:
        """ "complaints" and/or "bounces" when past their limits."""
        over = []
        if (self.rate("complained") or 0) > COMPLAINT_LIMIT:
            over.append("complaints")
        if (self.rate("bounced") or 0) > BOUNCE_LIMIT:
            over.append("bounces")
        return over

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            **{k: getattr(self, k) + getattr(other, k) for k in self.__dataclass_fields__}
        )


def percent(rate: float | None) -> str:
    """0.01234 -> '1.23%'; no base -> '–'."""
    return "–" if rate is None else f"{100 * rate:.2f}%"


def figures(
    session: Session, issue: Issue, now: datetime, settings: Settings
) -> dict[str, Figures]:
    """{edition lang: Figures} in ko, en, both order, and "all" for the issue."""
    stats = stored_counts(session, issue, now, settings).stats
    langs = [lang for lang in EDITIONS if lang in stats]
    by_lang = {
        lang: Figures(**{k: stats[lang].get(k, 0) for k in Figures.__dataclass_fields__})
        for lang in langs
    }
    return {**by_lang, "all": sum(by_lang.values(), Figures())}


def top_links(session: Session, issue: Issue, limit: int = 10) -> dict[str, list[tuple[str, int]]]:
    """{edition lang: [(url, readers who clicked it)]}, most clicked first."""
    url = WebhookEvent.payload["url"].as_string()
    clicks = func.count(distinct(WebhookEvent.delivery_id))
    found: dict[str, list[tuple[str, int]]] = {}
    for edition in issue.editions:
        rows = session.execute(
            select(url, clicks)
            .join(Delivery, Delivery.id == WebhookEvent.delivery_id)
            .where(
                WebhookEvent.issue_id == issue.id,
                WebhookEvent.event == "click",
                Delivery.edition_id == edition.id,
                url.is_not(None),
            )
            .group_by(url)
            .order_by(clicks.desc(), url)
            .limit(limit)
        ).all()
        found[edition.lang] = [(u, n) for u, n in rows]
    return found


def _hours_after(session: Session, column, start: datetime):
    """Whole hours from `start` to `column`, in the database (PostgreSQL and SQLite say it differently)."""
    start_value = literal(start, UTCDateTime)
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column - start_value) / 3600), Integer)
    return cast((func.julianday(column) - func.julianday(start_value)) * 24, Integer)


def hourly(session: Session, issue: Issue, hours: int = HOURS) -> dict[str, dict[str, list[int]]]:
    """{edition lang: {"open": [n per hour], "click": [...]}} over the first `hours` after the edition
    started; each figure counts events (a reader opening twice in an hour counts twice)."""
    series: dict[str, dict[str, list[int]]] = {}
    for edition in sorted(issue.editions, key=lambda e: EDITIONS.index(e.lang)):
        series[edition.lang] = {"open": [0] * hours, "click": [0] * hours}
        if edition.started_at is None:
            continue
        hour = _hours_after(session, WebhookEvent.occurred_at, edition.started_at)
        for event, h, n in session.execute(
            select(WebhookEvent.event, hour, func.count())
            .join(Delivery, Delivery.id == WebhookEvent.delivery_id)
            .where(
                WebhookEvent.issue_id == issue.id,
                WebhookEvent.event.in_(["open", "click"]),
                Delivery.edition_id == edition.id,
                WebhookEvent.occurred_at >= edition.started_at,
                WebhookEvent.occurred_at < edition.started_at + timedelta(hours=hours),
            )
            .group_by(WebhookEvent.event, hour)
        ):
            if 0 <= h < hours:
                series[edition.lang][event][h] += n
    return series


def last_issues(
    session: Session, now: datetime, settings: Settings, limit: int = 10
) -> list[tuple[Issue, Figures]]:
    """The last issues that went out (sending or after), newest first, each with its whole-issue figures."""
    issues = session.scalars(
        select(Issue)
        .where(Issue.started_at.is_not(None), Issue.status != IssueStatus.DRAFT)
        .order_by(Issue.number.desc())
        .limit(limit)
    ).all()
    return [(issue, figures(session, issue, now, settings)["all"]) for issue in issues]


def warnings(figs: dict[str, Figures]) -> list[tuple[str, str, float | None]]:
    """[(edition lang or "all", "complaints" | "bounces", rate)] past their limits."""
    return [
        (lang, kind, f.rate("complained" if kind == "complaints" else "bounced"))
        for lang, f in figs.items()
        for kind in f.warnings
    ]
