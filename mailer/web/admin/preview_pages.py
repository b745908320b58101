"""The reader's view of an edition: how it shows in an inbox (From name, subject, preheader),
and the mail in dark mode as Outlook's apps draw it (they mark the document data-ogsc/data-ogsb, which the
layout's dark.css answers; a client following prefers-color-scheme shows the same colours)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.issues import archive
from mailer.issues.models import Issue
from mailer.issues.service import IssueError, get_issue
from mailer.web.admin.pages import CurrentEditor
from mailer.web.deps import DbSession, settings_of

router = APIRouter(prefix="/admin")
# The edition preview is framed by the issue page (same origin only); images come from the news site.
# The mail is HTML from feeds and editors: it gets a sandbox (an origin of its own, no scripts, no forms)
# whether framed or opened on its own; links may open a new tab, outside the sandbox, as a reader's would.
SANDBOX = "allow-popups allow-popups-to-escape-sandbox"
PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'self'; "
    f"sandbox {SANDBOX}"
)
# Framed on the issue page (?fit=1), the mail also tells the page its height, so the frame is sized to
# it: one script of ours, allowed by its nonce alone (no script of the mail's can run), still from an
# origin of its own (no allow-same-origin: the desk's cookie stays out of reach).
FRAME_SANDBOX = f"allow-scripts {SANDBOX}"
FIT_SCRIPT = (
    '<script nonce="{nonce}">(function(){{var d=document.documentElement;function tell(){{'
    "parent.postMessage({{mailHeight:d.scrollHeight}},'*');}}"
    "new ResizeObserver(tell).observe(d);addEventListener('load',tell);}})();</script>"
)


def fit(html: str) -> tuple[str, str]:
    """The mail with its height-telling script, and the policy allowing that script only."""
    nonce = secrets.token_urlsafe(16)
    script = FIT_SCRIPT.format(nonce=nonce)
    at = html.rfind("</body>")
    fitted = html[:at] + script + html[at:] if at >= 0 else html + script
    policy = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
        f"script-src 'nonce-{nonce}'; frame-ancestors 'self'; sandbox {FRAME_SANDBOX}"
    )
    return fitted, policy


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


def _preview(request: Request, session: Session, number: int, lang: str, dark_mode: bool):
    try:
        edition = next(e for e in get_issue(session, number).editions if e.lang == lang)
    except (IssueError, StopIteration):
        return Response("no such edition", status_code=404)
    html = archive.archive_html(edition, settings_of(request))
    html, policy = dark(html) if dark_mode else html, PREVIEW_POLICY
    if request.query_params.get("fit") == "1":
        html, policy = fit(html)
    return HTMLResponse(
        html, headers={"Content-Security-Policy": policy, "X-Frame-Options": "SAMEORIGIN"}
    )


@router.get("/issues/{number:issue_number}/preview/{lang}", response_class=HTMLResponse)
def preview(number: int, lang: str, request: Request, session: DbSession, editor: CurrentEditor):
    """The stored edition as a reader sees it (subscriber links neutral), for the issue page's frames."""
    return _preview(request, session, number, lang, dark_mode=False)


@router.get("/issues/{number:issue_number}/preview/{lang}/dark", response_class=HTMLResponse)
def dark_preview(
    number: int, lang: str, request: Request, session: DbSession, editor: CurrentEditor
):
    return _preview(request, session, number, lang, dark_mode=True)
