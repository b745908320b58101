"""A note saved alone, as the editor types it: the issue page's script (static/notes.js) posts each
story note and each edition's intro here a moment after the typing stops, so a note is never lost to
another button pressed on the page. Without the script, the page's own forms save them as before."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from mailer.db import utcnow
from mailer.issues import approvals, editing
from mailer.issues.models import Editor, Issue
from mailer.issues.service import IssueError, get_issue
from mailer.rendering.render import RenderError
from mailer.web.admin.auth import check_csrf
from mailer.web.admin.errors import editing_error
from mailer.web.admin.pages import CurrentEditor, FormField, page_lang
from mailer.web.deps import DbSession, settings_of
from mailer.web.i18n import texts

router = APIRouter(prefix="/admin")


def _save(
    request: Request, session: Session, editor: Editor, number: int, change: Callable[[Issue], None]
) -> Response:
    """204 once saved; else 422 with the refusal in the page's language, and nothing kept. As with the
    page's forms, a change drops the approval of the send times, and an admin's own approves again."""
    lang = page_lang(request)
    try:
        issue = get_issue(session, number)
        kept = approvals.approved(issue) if editor.is_admin else []
        change(issue)
        approvals.approve(kept, editor.name, utcnow())
        session.commit()
    except RenderError as exc:
        session.rollback()
        return JSONResponse({"error": texts(lang)._("Rendering error") + f": {exc}"}, 422)
    except IssueError as exc:
        session.rollback()
        return JSONResponse({"error": editing_error(exc, lang)}, 422)
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


@router.post("/issues/{number:issue_number}/stories/{article_id:int}/note")
def save_story_note(
    number: int,
    article_id: int,
    request: Request,
    session: DbSession,
    editor: CurrentEditor,
    note: FormField = "",
    lang: FormField = "",
    csrf_token: FormField = "",
):
    check_csrf(request, csrf_token)
    settings = settings_of(request)
    return _save(
        request,
        session,
        editor,
        number,
        lambda i: editing.set_story_note(session, i, article_id, note, lang, settings=settings),
    )


@router.post("/issues/{number:issue_number}/editions/{lang}/note")
def save_edition_note(
    number: int,
    lang: str,
    request: Request,
    session: DbSession,
    editor: CurrentEditor,
    note: FormField = "",
    csrf_token: FormField = "",
):
    check_csrf(request, csrf_token)
    settings = settings_of(request)
    return _save(
        request,
        session,
        editor,
        number,
        lambda i: editing.set_edition_note(session, i, lang, note, settings=settings),
    )
