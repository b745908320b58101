"""Subscriber growth by language and week, from the history of subscription changes (the one record of
when each sign-up, confirmation, unsubscribe and bounce happened)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, literal_column, or_, select
from sqlalchemy.orm import Session

from mailer.langs import EDITIONS
from subscribers.models import Change, Subscriber

# What each change counts as. An address added by hand (the CLI, the desk) is a sign-up; one added
# already active (its detail's status) is a confirmation as well. An address an import added is an
# import, apart from both: a list brought in is not readers signing up (one asked to confirm by mail
# counts as a confirmation when they do).
KINDS = ("signups", "confirmations", "imports", "unsubscribes", "bounces")
IMPORT_SOURCE = "import"  # subscribers.csv_import.SOURCE
_ACTIONS = {
    "sign-up requested": ("signups",),
    "confirmed": ("confirmations",),
    "resubscribed": ("confirmations",),
    "rejoined": ("confirmations",),  # confirmed again after a hard bounce
    "unsubscribed": ("unsubscribes",),
    "bounced": ("bounces",),
}


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())  # Monday


def weekly(session: Session, now: datetime, weeks: int = 12) -> list[dict]:
    """[{"week": Monday, "lang": lang, kind: n, ...}] for the last `weeks` weeks (this one included), every
    week and language present, oldest first. Grouped by day in the database: a large import is one row."""
    first = week_start(now.date()) - timedelta(weeks=weeks - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=now.tzinfo)
    day = func.date(Change.at)
    # The pattern written into the SQL, not bound: PostgreSQL groups by an expression only when the one in
    # GROUP BY is the select's own, and two bound parameters make two different expressions.
    # A detail is coded (subscribers.changes.added: {"code":"added",…,"status":"active"}) or, written
    # before codes, plain English ("active, lang ko").
    active = or_(
        Change.detail.like(literal_column("""'%"status":"active"%'""")),
        Change.detail.like(literal_column("'active%'")),
    )
    imported = Change.source == literal_column(f"'{IMPORT_SOURCE}'")
    rows = session.execute(
        select(day, Subscriber.lang, Change.action, active, imported, func.count())
        .join(Subscriber, Subscriber.id == Change.subscriber_id)
        .where(Change.at >= since, Change.action.in_([*_ACTIONS, "added"]))
        .group_by(day, Subscriber.lang, Change.action, active, imported)
    )
    table: dict[tuple[date, str], dict[str, int]] = {}
    for when in (first + timedelta(weeks=i) for i in range(weeks)):
        for lang in EDITIONS:
            table[(when, lang)] = dict.fromkeys(KINDS, 0)
    for on, lang, action, active, imported, n in rows:
        on = (
            on if isinstance(on, date) else date.fromisoformat(str(on)[:10])
        )  # SQLite answers a string
        kinds = (
            ("imports",)
            if action == "added" and imported
            else ("signups", "confirmations")
            if action == "added" and active
            else ("signups",)
            if action == "added"
            else _ACTIONS[action]
        )
        for kind in kinds:
            table[(week_start(on), lang)][kind] += n
    return [
        {"week": w, "lang": lang, **counts} for (w, lang), counts in table.items()
    ]  # in insertion order
