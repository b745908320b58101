"""Scheduling from the desk: any IANA zone (the newsroom's usual ones first), a time shown in
the zone it was chosen in, one edition unscheduled without touching the others, and every refusal a
sentence in the page's language. An admin's schedule is approved as it is made; a plain editor's
waits for an admin's approval (approval_pages) before beat sends it."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mailer.config import Settings
from mailer.db import utcnow
from mailer.issues import scheduling
from mailer.issues.service import IssueError, get_issue
from mailer.issues.states import InvalidTransition
from mailer.langs import EDITIONS
from mailer.rendering.render import RenderError
from mailer.web.admin.auth import check_csrf
from mailer.web.admin.issue_view import issue_view, zone_choices
from mailer.web.admin.pages import CurrentEditor, FormField, back, page_lang
from mailer.web.deps import DbSession, settings_of
from mailer.web.i18n import texts
from mailer.web.labels import N_

router = APIRouter(prefix="/admin")
_REFUSALS = {  # what _refusal finds wrong, as the page says it
    "bad_zone": N_("Unknown time zone. Pick a name from the list, such as Asia/Seoul."),
    "bad_time": N_("That date and time cannot be read."),
    "past_time": N_("That time has passed. Pick a time to come."),
    "edition_started": N_("An edition already started cannot be scheduled again."),
    "cannot_schedule": N_("Issue #%(number)s is %(status)s, so it cannot be scheduled now."),
    "sending_refused": N_(
        "Sending is turned off by the settings (no postal address for the sender). "
        "Tell whoever runs the mailer."
    ),
}


def _refusal(
    issue, lang_choice: str, date: str, time: str, tz: str, now: datetime, settings: Settings
) -> str | None:
    """What is wrong with this schedule, as a key of _REFUSALS (None: nothing)."""
    if tz not in zone_choices():
        return "bad_zone"
    try:
        when = scheduling.parse_when(f"{date}T{time}", tz)
        langs = scheduling.langs_of(lang_choice)
    except IssueError:
        return "bad_time"
    if when <= now:
        return "past_time"
    if any(e.started_at is not None for e in issue.editions if e.lang in langs):
        return "edition_started"
    if issue.status not in scheduling.SCHEDULABLE:
        return "cannot_schedule"
    return "sending_refused" if settings.sending_refused() else None


def _issue(request: Request, session, number: int):
    try:
        return get_issue(session, number)
    except IssueError:
        return Response(
            texts(page_lang(request))._("There is no issue #%(number)s.", number=number),
            status_code=404,
        )


def _show(request: Request, session, editor, number: int, key: str):
    session.rollback()
    issue = get_issue(session, number)
    t = texts(page_lang(request))
    return issue_view(
        request,
        session,
        editor,
        number,
        422,
        error=t._(_REFUSALS[key], number=number, status=t.label("status", issue.status)),
    )


@router.post("/issues/{number:issue_number}/schedule")
def schedule(
    number: int,
    request: Request,
    session: DbSession,
    editor: CurrentEditor,
    date: FormField = "",
    time: FormField = "",
    timezone: FormField = "",
    lang: FormField = "all",
    csrf_token: FormField = "",
):
    check_csrf(request, csrf_token)
    settings = settings_of(request)
    tz = timezone.strip() or settings.desk_zone
    issue = _issue(request, session, number)
    if isinstance(issue, Response):
        return issue
    now = utcnow()
    refused = _refusal(issue, lang, date, time, tz, now, settings)
    if refused:
        return _show(request, session, editor, number, refused)
    try:
        scheduling.schedule(
            session,
            issue,
            scheduling.langs_of(lang),
            scheduling.parse_when(f"{date}T{time}", tz),
            now,
            request.app.state.runtime.settings,
            approved_by=editor.name if editor.is_admin else None,  # else it waits for an admin
        )
        session.commit()
    except (
        IssueError,
        InvalidTransition,
        RenderError,
    ):  # moved by someone else meanwhile, or a template error
        return _show(request, session, editor, number, "cannot_schedule")
    return back(f"/admin/issues/{number}", n="saved" if editor.is_admin else "awaiting")


@router.post("/issues/{number:issue_number}/unschedule")
def unschedule(
    number: int,
    request: Request,
    session: DbSession,
    editor: CurrentEditor,
    lang: FormField = "all",
    csrf_token: FormField = "",
):
    """`all`: the whole issue back to a draft; an edition's language: only that edition's send time goes."""
    check_csrf(request, csrf_token)
    issue = _issue(request, session, number)
    if isinstance(issue, Response):
        return issue
    if lang != "all" and lang not in EDITIONS:
        return _show(request, session, editor, number, "bad_time")
    try:
        if lang == "all":
            scheduling.unschedule(session, issue, request.app.state.runtime.settings)
        else:
            scheduling.unschedule_edition(session, issue, lang, request.app.state.runtime.settings)
        session.commit()
    except (IssueError, InvalidTransition, RenderError):
        return _show(request, session, editor, number, "cannot_schedule")
    return back(f"/admin/issues/{number}", n="saved")
