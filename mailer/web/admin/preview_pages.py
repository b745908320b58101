"""The reader's view of an edition: how it shows in an inbox (From name, subject, preheader),
and the mail in dark mode as Outlook's apps draw it (they mark the document data-ogsc/data-ogsb, which the
layout's dark.css answers; a client following prefers-color-scheme shows the same colours)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from mailer.config import Settings
from mailer.issues import archive
from mailer.issues.models import Issue
from mailer.issues.service import IssueError, get_issue
from mailer.web.admin.pages import CurrentEditor, DbSession
from mailer.web.deps import settings_of

router = APIRouter(prefix="/admin")


def inbox(issue: Issue, settings: Settings) -> dict[str, dict[str, str]]:
    """{edition lang: {"from_name", "from_email", "subject", "preheader"}}: what the inbox list shows."""
    return {
        e.lang: {
            "from_name": settings.from_name(e.lang),
            "from_email": settings.from_email,
            "subject": e.subject,
            "preheader": e.preheader or "",
        }
        for e in issue.editions
    }


def dark(html: str) -> str:
    return html.replace("<html", "<html data-ogsc data-ogsb", 1)


@router.get("/issues/{number:issue_number}/preview/{lang}/dark", response_class=HTMLResponse)
def dark_preview(
    number: int, lang: str, request: Request, session: DbSession, editor: CurrentEditor
):
    from mailer.web.admin.issue_pages import PREVIEW_POLICY  # issue_pages imports this module

    try:
        edition = next(e for e in get_issue(session, number).editions if e.lang == lang)
    except (IssueError, StopIteration):
        return Response("no such edition", status_code=404)
    return HTMLResponse(
        dark(archive.archive_html(edition, settings_of(request))),
        headers={"Content-Security-Policy": PREVIEW_POLICY, "X-Frame-Options": "SAMEORIGIN"},
    )
