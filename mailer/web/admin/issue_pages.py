"""The desk's dashboard and issue editor: draft, curate, preview, test, schedule, send, pause, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.db import utcnow
from mailer.issues import approvals, editing
from mailer.issues.models import DraftRun, Editor, Issue
from mailer.issues.service import IssueError, get_issue
from mailer.issues.states import InvalidTransition, IssueStatus
from mailer.langs import EDITIONS
from mailer.mail import proof_rules, proofs
from mailer.rendering.render import RenderError
from mailer.web.admin import progress_pages
from mailer.web.admin.auth import check_csrf
from mailer.web.admin.errors import editing_error
from mailer.web.admin.issue_view import (
    is_fragment,
    issue_view,
    live_status,
    progress_of,
    stories_fragment,
)
from mailer.web.admin.pages import CurrentEditor, FormField, back, page, page_lang
from mailer.web.deps import DbSession, get_runtime, settings_of
from mailer.web.i18n import texts

router = APIRouter(prefix="/admin")
RECENT = 10


# --- dashboard --------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def dashboard(request: Request, session: DbSession, editor: CurrentEditor):
    from subscribers import sunset
    from subscribers.lookup import cached_counts
    from subscribers.models import Status

    upcoming = session.scalar(
        select(Issue)
        .where(Issue.status.in_([IssueStatus.DRAFT, IssueStatus.SCHEDULED]))
        .order_by(Issue.number.desc())
        .limit(1)
    )
    recent = session.scalars(
        select(Issue)
        .where(Issue.status.not_in([IssueStatus.DRAFT, IssueStatus.SCHEDULED]))
        .order_by(Issue.number.desc())
        .limit(RECENT)
    ).all()
    runs = session.scalars(
        select(DraftRun).order_by(DraftRun.ran_at.desc(), DraftRun.id.desc()).limit(5)
    ).all()
    settings = settings_of(request)
    by = cached_counts(session, get_runtime(request).kv, 2 * settings.stats_refresh_seconds)
    statuses = [
        s.value for s in Status if any(status == s for _, status in by)
    ]  # the lifecycle's order
    table = [
        (
            lang,
            [by.get((lang, s), 0) for s in statuses],
            sum(by.get((lang, s), 0) for s in statuses),
        )
        for lang in EDITIONS
    ]
    return page(
        request,
        "dashboard",
        editor=editor,
        upcoming=upcoming,
        recent=[(i, progress_of(session, i, settings_of(request))) for i in recent],
        runs=runs,
        statuses=statuses,
        table=table,
        sunset=sunset.counts(session),
        sunset_issues=settings_of(request).sunset_issues,
        sunset_days=sunset.ANSWER_DAYS,
        notice=request.query_params.get("n"),
        sending=progress_pages.sending_now(
            session, page_lang(request), utcnow(), get_runtime(request)
        ),
    )


@router.post("/draft")
def draft_now(
    request: Request, session: DbSession, editor: CurrentEditor, csrf_token: FormField = ""
):
    from mailer.issues.service import draft_issue

    check_csrf(request, csrf_token)
    issue = draft_issue(session, utcnow(), request.app.state.runtime.settings)
    session.commit()
    return back(f"/admin/issues/{issue.number}") if issue else back("/admin")


# --- the issue editor -------------------------------------------------------------------------


@router.get("/issues/{number:issue_number}", response_class=HTMLResponse)
def issue_page(number: int, request: Request, session: DbSession, editor: CurrentEditor):
    try:
        return issue_view(request, session, editor, number)
    except IssueError:
        return Response(f"no issue #{number}", status_code=404)


@router.get("/issues/{number:issue_number}/live", response_class=HTMLResponse)
def issue_live(number: int, request: Request, session: DbSession, editor: CurrentEditor):
    """The issue page's status block (heading, state, figures, buttons) alone, from the same view as
    the page: the desk's script polls it and swaps in what changed."""
    try:
        issue = get_issue(session, number)
    except IssueError:
        return Response(f"no issue #{number}", status_code=404)
    response = page(request, "issue_live", **live_status(request, session, editor, issue))
    response.headers["Cache-Control"] = "no-store"
    return response


def apply(
    request: Request, session: Session, editor: Editor, number: int, change, notice: str = "saved"
):
    """Run an editing change; a template or state error is shown on the page, and nothing is kept.
    A change drops the approval of the issue's send times; an admin's own change approves again
    those that were approved. A story action from the page's htmx gets the story fragment instead of
    the page (and a refusal in it, with 422)."""
    shown = (
        (lambda code, **extra: stories_fragment(request, session, number, code, **extra))
        if is_fragment(request)
        else (lambda code, **extra: issue_view(request, session, editor, number, code, **extra))
    )
    try:
        issue = get_issue(session, number)
        kept = approvals.approved(issue) if editor.is_admin else []
        change(issue)
        approvals.approve(kept, editor.name, utcnow())
        session.commit()
    except RenderError as exc:  # the template's own message: what a designer needs to fix it
        session.rollback()
        return shown(422, error=texts(page_lang(request))._("Rendering error") + f": {exc}")
    except (IssueError, InvalidTransition) as exc:
        session.rollback()
        return shown(422, error=editing_error(exc, page_lang(request)))
    if is_fragment(request):
        return shown(200, notice=notice)
    return back(f"/admin/issues/{number}", n=notice)


@router.post("/issues/{number:issue_number}/editions")
async def save_editions(number: int, request: Request, session: DbSession, editor: CurrentEditor):
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token", "")))
    reset = str(form.get("default", ""))  # "use the default" of one field: as if left blank
    fields = {
        lang: {
            k: "" if reset == f"{k}_{lang}" else str(form.get(f"{k}_{lang}", ""))
            for k in ("subject", "preheader", "note")
        }
        for lang in EDITIONS
    }
    settings = request.app.state.runtime.settings
    return apply(
        request,
        session,
        editor,
        number,
        lambda i: editing.update_editions(session, i, fields, settings=settings),
    )


@router.post("/issues/{number:issue_number}/stories")
def change_story(
    number: int,
    request: Request,
    session: DbSession,
    editor: CurrentEditor,
    action: FormField = "",
    article_id: Annotated[int, Form()] = 0,
    note: FormField = "",
    lang: FormField = "",
    csrf_token: FormField = "",
):
    check_csrf(request, csrf_token)
    settings = request.app.state.runtime.settings
    changes = {
        "up": lambda i: editing.move_story(session, i, article_id, -1, settings=settings),
        "down": lambda i: editing.move_story(session, i, article_id, 1, settings=settings),
        "pin": lambda i: editing.pin_story(session, i, article_id, True, settings=settings),
        "unpin": lambda i: editing.pin_story(session, i, article_id, False, settings=settings),
        "remove": lambda i: editing.remove_story(session, i, article_id, settings=settings),
        "add": lambda i: editing.add_story(session, i, article_id, settings=settings),
        "note": lambda i: editing.set_story_note(
            session, i, article_id, note, lang or None, settings=settings
        ),
    }
    if action not in changes:
        return Response("unknown action", status_code=400)
    return apply(request, session, editor, number, changes[action])


@router.post("/issues/{number:issue_number}/test")
def test_send(
    number: int,
    request: Request,
    session: DbSession,
    editor: CurrentEditor,
    to: FormField = "",
    lang: FormField = "ko",
    csrf_token: FormField = "",
):
    from mailer.mail.senders import SendError
    from subscribers.emails import InvalidEmail

    check_csrf(request, csrf_token)
    t = texts(page_lang(request))
    try:
        settings = settings_of(request)
        sent = proofs.send_proof(
            session,
            get_issue(session, number),
            lang,
            to.split(),
            settings,
            quota=lambda n: proof_rules.take_quota(
                request.app.state.proof_counts, editor.id, n, settings
            ),
        )
    except InvalidEmail:
        return issue_view(
            request,
            session,
            editor,
            number,
            422,
            error=t._("One of the addresses is not a valid email address."),
        )
    except SendError:
        return issue_view(
            request,
            session,
            editor,
            number,
            422,
            error=t._("The test could not be sent. Try again in a moment."),
        )
    except IssueError as exc:
        return issue_view(
            request,
            session,
            editor,
            number,
            422,
            error=editing_error(exc, page_lang(request)),
        )
    return back(f"/admin/issues/{number}", n="test_sent", to=", ".join(sent))
