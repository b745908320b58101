"""Sending from the desk: only the actions that make sense in the issue's state are offered,
"send now" and "cancel" take a second step that names how many people they reach, a pause records who and
why, and every refusal is a sentence in the page's language, never an exception's text."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from mailer.delivery.resend import NOT_RESENDABLE, NOTHING_FAILED
from mailer.issues import reasons
from mailer.issues.models import Issue
from mailer.issues.service import IssueError, get_issue
from mailer.issues.states import InvalidTransition
from mailer.langs import EDITIONS
from mailer.rendering.render import RenderError
from mailer.web import language
from mailer.web.admin.auth import check_csrf
from mailer.web.admin.issue_view import ADMIN_ONLY, actions_for, issue_view, unstarted
from mailer.web.admin.pages import CurrentEditor, FormField, back, page, page_lang
from mailer.web.deps import DbSession, get_runtime, settings_of
from mailer.web.i18n import texts

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin")

CONFIRMED = frozenset({"send", "cancel", "resend"})  # a second step naming the recipients
# What the page says happened: a send has started, not finished (the live block says when it is sent)
NOTICES = {
    "send": "send_started",
    "resume": "resumed",
    "pause": "paused",
    "cancel": "cancelled",
    "resend": "resent",
}
MAX_REASON = 300


def recipients(session: Session, issue: Issue, action: str) -> list[tuple[str, int]]:
    """Who the action reaches, by edition in EDITIONS order: for "send", the active subscribers of each
    edition not started; for "cancel", those and the recipients still waiting in started editions; for
    "resend", the readers of the failed batches that failed with them."""
    from mailer.delivery.resend import failed_readers
    from mailer.delivery.stats import progress
    from subscribers.lookup import counts

    if action == "resend":
        return [("failed", failed_readers(session, issue))]
    by = counts(session)
    waiting_langs = unstarted(issue)
    reach = [(lang, by.get((lang, "active"), 0)) for lang in EDITIONS if lang in waiting_langs]
    if action == "cancel":
        waiting = progress(session, issue).waiting
        if waiting:
            reach.append(("waiting", waiting))
    return reach


def _refusal(issue: Issue, action: str, lang: str) -> str:
    t = texts(lang)
    return t._(
        "Issue #%(number)s is %(status)s, so you cannot %(action)s it now.",
        number=issue.number,
        status=t.label("status", issue.status),
        action=t.label("act", action),
    )


@router.post("/issues/{number:issue_number}/action")
def issue_action(
    number: int,
    request: Request,
    session: DbSession,
    editor: CurrentEditor,
    action: FormField = "",
    confirm: FormField = "",
    reason: FormField = "",
    csrf_token: FormField = "",
):
    """Send now, pause, resume, cancel: through the delivery facade, as the CLI and beat do."""
    from mailer.delivery import facade

    check_csrf(request, csrf_token)
    lang = page_lang(request)
    t = texts(lang)
    if action not in NOTICES:
        return Response(t._("Unknown action."), status_code=400)
    try:
        issue = get_issue(session, number)
    except IssueError:
        return Response(t._("There is no issue #%(number)s.", number=number), status_code=404)
    if action not in actions_for(issue, editor):
        if action in ADMIN_ONLY and not editor.is_admin:
            return issue_view(
                request,
                session,
                editor,
                number,
                403,
                error=t._("Only an admin can do that. Ask an admin."),
            )
        return issue_view(
            request, session, editor, number, 409, error=_refusal(issue, action, lang)
        )
    if action in CONFIRMED and confirm != "yes":
        reach = recipients(session, issue, action)
        return page(
            request,
            "confirm",
            editor=editor,
            issue=issue,
            action=action,
            reach=reach,
            total=sum(n for _, n in reach),  # the language switch leads back to the issue (a GET)
            switch_url=f"/admin/issues/{number}?lang={language.other(lang)}",
        )
    reason = " ".join(reason.split())[:MAX_REASON]
    why = reasons.paused(editor.name, reason)  # who and why, for the desk and the CLI
    runtime = get_runtime(request)
    actions = {
        "send": lambda: facade.send_now(runtime, number, editor.name),
        "resume": lambda: facade.resume(runtime, number, editor.name),
        "pause": lambda: facade.pause(runtime, number, why),
        "cancel": lambda: facade.cancel(runtime, number),
        "resend": lambda: facade.resend_failed(runtime, number),
    }
    session.commit()  # the facade works in transactions of its own
    try:
        actions[action]()
    except InvalidTransition:  # another editor or a worker moved it first
        session.rollback()
        issue = get_issue(session, number)
        return issue_view(
            request, session, editor, number, 409, error=_refusal(issue, action, lang)
        )
    except IssueError as exc:
        if exc.code not in (NOT_RESENDABLE, NOTHING_FAILED):
            return _not_sent(request, session, editor, number, action, exc)
        session.rollback()  # another admin resent it first
        return issue_view(
            request,
            session,
            editor,
            number,
            409,
            error=t._("Issue #%(number)s has no failed batch to resend.", number=number),
        )
    except RenderError as exc:
        return _not_sent(request, session, editor, number, action, exc)
    return back(f"/admin/issues/{number}", n=NOTICES[action])


def _not_sent(
    request: Request, session: Session, editor, number: int, action: str, exc: Exception
) -> Response:
    t, settings = texts(page_lang(request)), settings_of(request)
    session.rollback()
    log.warning("issue #%s: %s refused: %s", number, action, exc)
    refusal = (
        t._(
            "Sending is turned off by the settings (no postal address for the sender). "
            "Tell whoever runs the mailer."
        )
        if settings.sending_refused()
        else t._(
            "Issue #%(number)s could not be sent. "
            "Check that every edition is rendered, then try again.",
            number=number,
        )
    )
    return issue_view(request, session, editor, number, 409, error=refusal)
    return back(f"/admin/issues/{number}", n=NOTICES[action])
