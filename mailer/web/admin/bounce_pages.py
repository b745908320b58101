"""An issue's bounces and complaints (/admin/issues/{n}/bounces), where the report's warnings lead: each
with its address, hard or soft, the reason in the page's language, the date and the edition."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from mailer.events.bounce_list import issue_bounces
from mailer.issues.service import IssueError, get_issue
from mailer.web.admin.pages import CurrentEditor, page, page_lang
from mailer.web.deps import DbSession, settings_of
from mailer.web.i18n import texts

router = APIRouter(prefix="/admin")


@router.get("/issues/{number:issue_number}/bounces", response_class=HTMLResponse)
def issue_bounces_page(number: int, request: Request, session: DbSession, editor: CurrentEditor):
    try:
        issue = get_issue(session, number)
    except IssueError:
        return page(
            request,
            "refused",
            404,
            editor=editor,
            error=texts(page_lang(request))._("There is no such issue."),
        )
    rows, total = issue_bounces(session, issue)
    return page(
        request,
        "bounces",
        editor=editor,
        issue=issue,
        rows=rows,
        total=total,
        kept_days=settings_of(request).event_retention_days,
    )
