"""What the desk's reports show: rates per edition, the most-clicked links, opens and clicks hour by hour
after the send, the last issues compared, and the warnings a sender must heed.

Rates come from the stored counts (stats.stored_counts), so a page never counts a million-row ledger; the
links and the hourly figures from the aggregates rolled up with them (rollup.py), which outlive the raw
events and ledger rows that retention prunes. A page asks for the counts first, which rolls up when they
are stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.events.models import IssueHour, IssueLink
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
    """{edition lang: [(url, readers who clicked it)]}, most clicked first, as rolled up with the issue's
    stored counts (rollup.rollup_issue)."""
    found: dict[str, list[tuple[str, int]]] = {}
    for edition in issue.editions:
        rows = session.execute(
            select(IssueLink.url, IssueLink.clicks)
            .where(IssueLink.issue_id == issue.id, IssueLink.lang == edition.lang)
            .order_by(IssueLink.clicks.desc(), IssueLink.url)
            .limit(limit)
        ).all()
        found[edition.lang] = [(u, n) for u, n in rows]
    return found


def hourly(session: Session, issue: Issue, hours: int = HOURS) -> dict[str, dict[str, list[int]]]:
    """{edition lang: {"open": [n per hour], "click": [...]}} over the first `hours` after the edition
    started, as rolled up with the issue's stored counts; each figure counts events (a reader opening
    twice in an hour counts twice)."""
    series: dict[str, dict[str, list[int]]] = {}
    for edition in sorted(issue.editions, key=lambda e: EDITIONS.index(e.lang)):
        series[edition.lang] = {"open": [0] * hours, "click": [0] * hours}
    for lang, event, h, n in session.execute(
        select(IssueHour.lang, IssueHour.event, IssueHour.hour, IssueHour.events).where(
            IssueHour.issue_id == issue.id,
            IssueHour.event.in_(["open", "click"]),
            IssueHour.hour < hours,
        )
    ):
        if lang in series and 0 <= h < hours:
            series[lang][event][h] += n
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
