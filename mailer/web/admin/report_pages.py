"""An issue's report (/admin/issues/{n}/report) and the trend page (/admin/reports): rates per edition, the
most-clicked links, opens and clicks over the first 72 hours, the last issues compared, subscriber growth.

Each table is built once (columns, then raw rows) and shown as HTML or downloaded as CSV from the same rows.
"""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.db import utcnow
from mailer.events import reports
from mailer.issues.models import Issue
from mailer.issues.service import IssueError, get_issue
from mailer.web.admin.charts import line_chart
from mailer.web.admin.pages import CurrentEditor, page, page_lang
from mailer.web.admin.trend_charts import growth_charts, growth_rows, rate_charts
from mailer.web.deps import DbSession, settings_of
from mailer.web.i18n import Texts, texts
from subscribers import growth
from subscribers.csv_export import safe_cell

router = APIRouter(prefix="/admin")
LAST_ISSUES = 10
GROWTH_WEEKS = 12
RATE_COLUMNS = (
    ("delivered", "rate_delivered"),
    ("bounced", "rate_bounced"),
    ("complained", "rate_complained"),
    ("opened", "rate_opened"),
    ("clicked", "rate_clicked"),
)


class Table:
    """A titled table: columns (label, kind: text | int | pct) and rows of raw values."""

    def __init__(self, name: str, title: str, columns: list[tuple[str, str]], rows: list[list]):
        self.name, self.title, self.columns, self.rows = name, title, columns, rows

    def shown(self) -> list[list[str]]:
        def cell(value, kind):
            if kind == "pct":
                return reports.percent(value)
            return f"{value:,}" if kind == "int" else str(value)

        return [
            [cell(v, kind) for v, (_, kind) in zip(row, self.columns, strict=True)]
            for row in self.rows
        ]

    def csv(self, filename: str) -> Response:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([label for label, _ in self.columns])
        for row in (
            self.rows
        ):  # rates as fractions with 4 decimals (0.0123 = 1.23%): a spreadsheet's numbers
            writer.writerow(
                [
                    "" if v is None else f"{v:.4f}" if kind == "pct" else safe_cell(v)
                    for v, (_, kind) in zip(row, self.columns, strict=True)
                ]
            )
        return Response(
            "\ufeff" + out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}-{self.name}.csv"',
                "Cache-Control": "no-store",
            },
        )


def _rate_cells(f: reports.Figures) -> list:
    return (
        [f.sent] + [f.rate(name) for name, _ in RATE_COLUMNS] + [f.unsubscribed, f.machine_opened]
    )


def _rate_columns(t: Texts) -> list[tuple[str, str]]:
    return (
        [(t._("Sent"), "int")]
        + [(t.label("rate", name), "pct") for name, _ in RATE_COLUMNS]
        + [(t._("Unsubscribes"), "int"), (t._("Machine opens"), "int")]
    )


def _warning_texts(
    figs: dict[str, reports.Figures], t: Texts, number: int, whole: str | None = None
) -> list[tuple[str, str]]:
    """Each warning, with the page that lists the issue's bounces and complaints behind it."""
    url = f"/admin/issues/{number}/bounces"

    def edition(lang):
        return (whole or t._("Whole issue")) if lang == "all" else t.label("edition", lang)

    return [
        (
            t._("%(edition)s: complaint rate %(rate)s, above the 0.1%% limit.", **found)
            if kind == "complaints"
            else t._("%(edition)s: bounce rate %(rate)s, above the 2%% limit.", **found),
            url,
        )
        for lang, kind, rate in reports.warnings(figs)
        for found in [{"edition": edition(lang), "rate": reports.percent(rate)}]
    ]


def _issue_tables(
    session: Session, issue: Issue, t: Texts, settings: Settings
) -> tuple[dict, list[Table]]:
    figs = reports.figures(session, issue, utcnow(), settings)
    editions = Table(
        "editions",
        t._("Editions"),
        [(t._("Edition"), "text"), *_rate_columns(t)],
        [
            [t._("Whole issue") if lang == "all" else t.label("edition", lang), *_rate_cells(f)]
            for lang, f in figs.items()
        ],
    )
    links = Table(
        "links",
        t._("Most-clicked links"),
        [(t._("Edition"), "text"), (t._("Link"), "text"), (t._("Clicks"), "int")],
        [
            [t.label("edition", lang), url, n]
            for lang, found in reports.top_links(session, issue).items()
            for url, n in found
        ],
    )
    return figs, [editions, links]


def _issue_or_404(session: Session, number: int, t: Texts):
    try:
        return get_issue(session, number), None
    except IssueError:
        return None, Response(
            t._("Error") + f": #{number}", status_code=404, media_type="text/plain; charset=utf-8"
        )


@router.get("/issues/{number:issue_number}/report", response_class=HTMLResponse)
def issue_report(number: int, request: Request, session: DbSession, editor: CurrentEditor):
    lang = page_lang(request)
    t = texts(lang)
    issue, missing = _issue_or_404(session, number, t)
    if missing:
        return missing
    figs, tables = _issue_tables(session, issue, t, settings_of(request))
    series = reports.hourly(session, issue)
    charts = [
        line_chart(
            t._("Opens and clicks in the first 72 hours (per hour, by edition)") + " · " + name,
            [
                (code, t.label("edition", code), by_event[event])
                for code, by_event in series.items()
            ],
            t._("hours after sending"),
        )
        for event, name in (("open", t._("Opens")), ("click", t._("Clicks")))
    ]
    return page(
        request,
        "report",
        editor=editor,
        issue=issue,
        tables=tables,
        charts=charts,
        warnings=_warning_texts(figs, t, issue.number),
        started=issue.started_at is not None,
    )


@router.get("/issues/{number:issue_number}/report.csv")
def issue_report_csv(
    number: int, request: Request, session: DbSession, editor: CurrentEditor, table: str = ""
):
    t = texts(page_lang(request))
    issue, missing = _issue_or_404(session, number, t)
    if missing:
        return missing
    found = next(
        (x for x in _issue_tables(session, issue, t, settings_of(request))[1] if x.name == table),
        None,
    )
    if found is None:
        return Response(
            t._("There is no such table."), status_code=404, media_type="text/plain; charset=utf-8"
        )
    return found.csv(f"issue-{number}")


def _trends(session: Session, t: Texts, settings: Settings) -> dict:
    """The trend page's warnings, charts and tables (newest first; a week with no change left out)."""
    now, desk = utcnow(), ZoneInfo(settings.desk_zone)
    last = reports.last_issues(session, now, settings, LAST_ISSUES)
    issues = Table(
        "issues",
        t._("The last issues compared"),
        [(t._("Issue"), "text"), (t._("Sent on"), "text"), *_rate_columns(t)],
        [
            [
                t._("Issue #%(number)s", number=i.number),
                # last_issues: started ones only; the day it went out where the desk is
                f"{i.started_at.astimezone(desk):%Y-%m-%d}" if i.started_at else "",
                *_rate_cells(f),
            ]
            for i, f in last
        ],
    )
    weekly = growth_rows(growth.weekly(session, now, GROWTH_WEEKS))
    weeks = Table(
        "growth",
        t._("Subscriber growth by language (weekly)"),
        [
            (t._("Week of"), "text"),
            (t._("Language"), "text"),
            (t._("Sign-ups"), "int"),
            (t._("Confirmations"), "int"),
            (t._("Imports"), "int"),
            (t._("Unsubscribes"), "int"),
            (t._("Bounces"), "int"),
        ],
        [
            [
                row["week"].isoformat(),
                t.label("edition", row["lang"]),
                *(row[k] for k in growth.KINDS),
            ]
            for row in weekly
        ],
    )
    warnings = [
        w
        for i, f in last
        for w in _warning_texts({"all": f}, t, i.number, t._("Issue #%(number)s", number=i.number))
    ]
    return {
        "warnings": warnings,
        "tables": [issues, weeks],
        "rate_charts": rate_charts(last, t),
        "growth_charts": growth_charts(weekly, t),
    }


@router.get("/reports", response_class=HTMLResponse)
def trends(request: Request, session: DbSession, editor: CurrentEditor):
    found = _trends(session, texts(page_lang(request)), settings_of(request))
    return page(request, "reports", editor=editor, growth_weeks=GROWTH_WEEKS, **found)


@router.get("/reports.csv")
def trends_csv(request: Request, session: DbSession, editor: CurrentEditor, table: str = ""):
    t = texts(page_lang(request))
    found = next(
        (x for x in _trends(session, t, settings_of(request))["tables"] if x.name == table), None
    )
    if found is None:
        return Response(
            t._("There is no such table."), status_code=404, media_type="text/plain; charset=utf-8"
        )
    return found.csv("reports")
