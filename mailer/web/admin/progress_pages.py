"""Live send progress: a bar for the issue and one per edition, with rate, time left and counts by outcome.

Pages render it once (views()); the desk's script (static/progress.js) then polls the issue's progress JSON,
built by the same function, and updates the bars in place: no reload, no script inline (the CSP forbids it).
Everything comes from the batch rows (delivery.stats) and the send's figures (delivery.figures, as ops
status reads them): state, rate over the last minute, time left, and why a send is stalled. Cheap to poll.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer import templates_dir
from mailer.db import utcnow
from mailer.delivery.figures import PAUSED, SENDING, STALLED, STARTING, UNKNOWN
from mailer.delivery.stats import OUTCOMES, PARTLY_SENT, edition_progress, progress
from mailer.issues.models import Issue
from mailer.issues.service import IssueError, get_issue
from mailer.issues.states import IssueStatus
from mailer.langs import EDITIONS
from mailer.ops.status import issues_in_flight
from mailer.runtime import Runtime
from mailer.web.admin.pages import CurrentEditor, page_lang
from mailer.web.deps import DbSession, get_runtime
from mailer.web.i18n import Texts, texts

router = APIRouter(prefix="/admin")
STATIC = templates_dir() / "web" / "admin" / "static"
SCRIPTS = frozenset(
    {"progress.js", "localtime.js", "notes.js", "htmx.min.js", "stories.js", "previews.js"}
)  # served by name from STATIC; nothing else is
LIVE = frozenset(
    {IssueStatus.SENDING, IssueStatus.PAUSED}
)  # the figures may still move: the script polls


def _eta(seconds: int | None, t: Texts) -> str:
    if seconds is None:
        return t._("unknown")
    return _duration(seconds, t)


def _duration(seconds: int, t: Texts) -> str:
    minutes, s = divmod(int(seconds), 60)
    h, m = divmod(minutes, 60)
    return (
        t._("about %(h)s h %(m)s min", h=h, m=m)
        if h
        else t._("about %(m)s min %(s)s s", m=m, s=s)
        if m
        else t._("about %(s)s s", s=s)
    )


def _bar(key: str, label: str, counts: dict[str, int]) -> dict:
    total = counts.get("total", 0)
    done = sum(counts.get(o, 0) for o in OUTCOMES[:-1])
    fields = {o: f"{counts.get(o, 0):,}" for o in OUTCOMES[:-1]}
    fields["waiting"] = f"{total - done:,}"
    fields["done"], fields["total"] = f"{done:,}", f"{total:,}"
    fields["percent"] = f"{(100 * done / total) if total else 0:.0f}%"
    return {"key": key, "label": label, "value": done, "max": total, "fields": fields}


OWN_STATES = frozenset({STARTING, STALLED})  # the figures' states that are no issue status


def _state(flight: dict | None, issue: Issue, t: Texts) -> str:
    state = flight["state"] if flight else issue.status
    if state == PARTLY_SENT:
        return t._("Partly sent")
    if state in OWN_STATES:
        return t.label("state", state)
    return t.label("status", issue.status if state == SENDING else state)


def _pace(flight: dict | None, t: Texts) -> tuple[str, str]:
    """Rate and time left, or what stands in for them."""
    if not flight or flight["state"] in (PARTLY_SENT, PAUSED):
        return "–", "–"
    if flight["state"] == STARTING:
        return t._("starting"), t._("starting")
    if flight["state"] == STALLED:
        return t._("%(n)s/s", n=0), t._("stalled")
    rate = t._("%(n)s/s", n=format(flight["per_second"], ","))
    return rate, _eta(flight["eta_seconds"], t)


def _note(flight: dict | None, issue: Issue, t: Texts) -> str:
    """Why a send is stalled, or which editions wait for a send time."""
    if not flight:
        return ""
    if flight["state"] == STALLED:
        why = t.label("stall", flight["stall_reason"] or UNKNOWN)
        if flight["stalled_for"]:
            return t._(
                "Nothing accepted for %(time)s: %(reason)s",
                time=_duration(flight["stalled_for"], t),
                reason=why,
            )
        return t._("Stalled: %(reason)s", reason=why)
    if flight["state"] == PARTLY_SENT and flight["unscheduled"]:
        names = ", ".join(t.label("edition", lang) for lang in flight["unscheduled"])
        return t._("waiting for a send time") + ": " + names
    return ""


def _view(session: Session, issue: Issue, t: Texts, flight: dict | None) -> dict:
    whole = progress(session, issue)
    by_edition = edition_progress(session, issue)
    langs = [lang for lang in EDITIONS if lang in {e.lang for e in issue.editions}]
    rate, eta = _pace(flight, t)
    whole_counts = {"total": whole.total, **{o: getattr(whole, o) for o in OUTCOMES[:-1]}}
    return {
        "number": issue.number,
        "live": issue.status in LIVE,
        "status": issue.status,
        "state": flight["state"] if flight else issue.status,
        "src": f"/admin/issues/{issue.number}/progress",
        "fields": {
            "state": _state(flight, issue, t),
            "status": t.label("status", issue.status),
            "rate": rate,
            "eta": eta,
            "note": _note(flight, issue, t),
        },
        "bars": [_bar("issue", t._("Whole issue"), whole_counts)]
        + [_bar(lang, t.label("edition", lang), by_edition.get(lang, {})) for lang in langs],
    }


def views(
    session: Session, issues: list[Issue], lang: str, now: datetime, runtime: Runtime
) -> dict[int, dict]:
    """{issue number: its progress view}, for a page's first render and for the script's polls alike."""
    # rate and time left exist only for issues in flight: a draft's page asks nothing of them
    live = any(i.status in LIVE for i in issues)
    flights = (
        {row["number"]: row for row in issues_in_flight(session, now, runtime.settings, runtime.kv)}
        if live
        else {}
    )
    return {i.number: _view(session, i, texts(lang), flights.get(i.number)) for i in issues}


def sending_now(session: Session, lang: str, now: datetime, runtime: Runtime) -> list[dict]:
    """The progress of every issue sending or paused, for the dashboard."""
    issues = session.scalars(
        select(Issue).where(Issue.status.in_(LIVE)).order_by(Issue.number)
    ).all()
    return list(views(session, list(issues), lang, now, runtime).values())


@router.get("/issues/{number:issue_number}/progress")
def progress_json(number: int, request: Request, session: DbSession, editor: CurrentEditor):
    try:
        issue = get_issue(session, number)
    except IssueError:
        return JSONResponse({"error": texts(page_lang(request))._("Error")}, status_code=404)
    return JSONResponse(
        views(session, [issue], page_lang(request), utcnow(), get_runtime(request))[number],
        headers={"Cache-Control": "no-store"},
    )


@router.get("/static/{name}")
def script(name: str, editor: CurrentEditor):
    """The desk's few scripts, from the package (the CSP allows scripts from this origin only)."""
    if name not in SCRIPTS:
        return Response(status_code=404)
    return FileResponse(
        STATIC / name,
        media_type="text/javascript",
        headers={"Cache-Control": "private, max-age=300"},
    )
