"""An admin's approval of a plain editor's schedule: a second step names, for each edition waiting,
when it goes out and how many people it reaches; then the approval is recorded with the admin's name.
Only an admin reaches these routes (CurrentAdmin), and only by a form of the desk (CSRF)."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from mailer.db import utcnow
from mailer.issues import approvals
from mailer.issues.models import Edition
from mailer.issues.service import IssueError, get_issue
from mailer.web import language
from mailer.web.admin.auth import check_csrf
from mailer.web.admin.issue_view import issue_view
from mailer.web.admin.pages import CurrentAdmin, FormField, back, page, page_lang
from mailer.web.deps import DbSession
from mailer.web.i18n import texts

router = APIRouter(prefix="/admin")


def reach(session: Session, editions: list[Edition]) -> list[tuple[Edition, int]]:
    """Each edition with the active subscribers of its language: whom it reaches if sent now."""
    from subscribers.lookup import counts

    by = counts(session)
    return [(e, by.get((e.lang, "active"), 0)) for e in editions]


def seen(editions: list[Edition]) -> str:
    """What the second step showed: the editions, their send times and their renderings. A change
    between the step and the approval (a new time, a content change) asks for a new look."""
    shown = "|".join(
        f"{e.lang}@{e.send_at.isoformat() if e.send_at else ''}"
        f"@{e.rendered_at.isoformat() if e.rendered_at else ''}"
        for e in editions
    )
    return hashlib.sha256(shown.encode()).hexdigest()[:32]


@router.post("/issues/{number:issue_number}/approve")
def approve(
    number: int,
    request: Request,
    session: DbSession,
    editor: CurrentAdmin,
    confirm: FormField = "",
    shown: FormField = "",
    csrf_token: FormField = "",
):
    check_csrf(request, csrf_token)
    lang = page_lang(request)
    t = texts(lang)
    try:
        issue = get_issue(session, number)
    except IssueError:
        return Response(t._("There is no issue #%(number)s.", number=number), status_code=404)
    waiting = approvals.waiting(issue)
    if not waiting:
        return issue_view(
            request,
            session,
            editor,
            number,
            409,
            error=t._("No send time of issue #%(number)s waits for approval.", number=number),
        )
    if confirm != "yes" or shown != seen(waiting):
        editions = reach(session, waiting)
        return page(
            request,
            "approve",
            200 if confirm != "yes" else 409,
            editor=editor,
            issue=issue,
            reach=editions,
            total=sum(n for _, n in editions),
            shown=seen(waiting),
            error=t._("The schedule or the content changed since you looked. Look again.")
            if confirm == "yes"
            else None,
            switch_url=f"/admin/issues/{number}?lang={language.other(lang)}",
        )
    approvals.approve(waiting, editor.name, utcnow())
    session.commit()
    return back(f"/admin/issues/{number}", n="approved")
