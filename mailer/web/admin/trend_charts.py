"""The trend page's charts (server-drawn SVG, mailer.web.admin.charts): subscriber growth per week for each
edition's language, and each of the last issues' rates, newest first, as the tables under them."""

from __future__ import annotations

from markupsafe import Markup

from mailer.events import reports
from mailer.issues.models import Issue
from mailer.langs import EDITIONS
from mailer.web.admin.charts import bar_chart
from mailer.web.i18n import Texts

# what each growth bar counts, and its colour (a colour is never the only cue: every bar has its figure)
GROWTH = (
    ("signups", "Sign-ups", "#3b82f6"),
    ("confirmations", "Confirmations", "#16a34a"),
    ("unsubscribes", "Unsubscribes", "#dc2626"),
)
# an issue's rates, in the order an editor reads a send: did it arrive, was it read, was it refused
# (rate, colour, limit): a share of all mail on a scale to 100%; a refusal rate on its own scale, with the
# limit past which the report warns drawn as a dashed line
RATES = (
    ("delivered", "#16a34a", None),
    ("opened", "#3b82f6", None),
    ("clicked", "#7c3aed", None),
    ("bounced", "#ea580c", reports.BOUNCE_LIMIT),
    ("complained", "#dc2626", reports.COMPLAINT_LIMIT),
)


def growth_rows(weekly: list[dict]) -> list[dict]:
    """The weeks (and languages) where something happened, newest first; a week of zeros is left out."""
    kept = [row for row in weekly if any(v for k, v in row.items() if k not in ("week", "lang"))]
    return sorted(
        kept, key=lambda row: row["week"], reverse=True
    )  # stable: ko, en, both within a week


def growth_charts(rows: list[dict], t: Texts) -> list[tuple[str, Markup]]:
    """[(caption, chart)]: one per edition language that had any change, weeks newest first."""
    series = [(key, t._(name), colour) for key, name, colour in GROWTH]
    charts = []
    for lang in EDITIONS:
        mine = [row for row in rows if row["lang"] == lang]
        if mine:
            caption = t.label("edition", lang)
            charts.append(
                (
                    caption,
                    bar_chart(
                        caption + " · " + t._("Subscriber growth by language (weekly)"),
                        [(row["week"].isoformat(), [row[k] for k, _, _ in GROWTH]) for row in mine],
                        series,
                    ),
                )
            )
    return charts


def rate_charts(last: list[tuple[Issue, reports.Figures]], t: Texts) -> list[tuple[str, Markup]]:
    """[(caption, chart)]: one per rate, a bar per issue, newest first; no issue sent, no chart."""
    if not last:
        return []
    charts = []
    for name, colour, limit in RATES:
        caption = t.label("rate", name)
        rows = [
            (t._("Issue #%(number)s", number=issue.number), [f.rate(name)]) for issue, f in last
        ]
        charts.append(
            (
                caption,
                bar_chart(
                    caption + " · " + t._("The last issues compared"),
                    rows,
                    [(name, caption, colour)],
                    shown=reports.percent,
                    top=None if limit else 1.0,
                    mark=limit,
                ),
            )
        )
    return charts
