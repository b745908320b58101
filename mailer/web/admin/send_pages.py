"""Sending from the desk: only the actions that make sense in the issue's state are offered,
"send now" and "cancel" take a second step that names how many people they reach, a pause records who and
why, and every refusal is a sentence in the page's language, never an exception's text."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from mailer.coded import decode
from mailer.issues import reasons
from mailer.issues.models import Editor, Issue
from mailer.issues.service import IssueError, get_issue
from mailer.issues.states import InvalidTransition, IssueStatus
from mailer.langs import EDITIONS
from mailer.rendering.render import RenderError
from mailer.web import language
from mailer.web.admin.auth import check_csrf
from mailer.web.admin.pages import CurrentEditor, DbSession, FormField, back, page, page_lang
from mailer.web.deps import get_runtime
from mailer.web.i18n import texts

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin")

ADMIN_ONLY = frozenset(
    {"send", "resume", "cancel"}
)  # an editor curates, tests, schedules and may pause
CONFIRMED = frozenset({"send", "cancel"})  # a second step naming the recipients
MAX_REASON = 300


def _unstarted(issue: Issue) -> list[str]:
    return [e.lang for e in issue.editions if e.started_at is None]


def actions_for(issue: Issue, editor: Editor) -> tuple[str, ...]:
    """What can be done to the issue now, by this editor, in the order the page shows them."""
    s = IssueStatus
    by_status: dict[str, tuple[str, ...]] = {
        s.DRAFT: ("send",),
        s.SCHEDULED: ("send", "cancel"),
        # sending with editions not started (a per-edition schedule): "send now" starts the rest
        s.SENDING: (("send",) if _unstarted(issue) else ()) + ("pause", "cancel"),
        s.PAUSED: ("resume", "cancel"),
    }
    return tuple(
        a for a in by_status.get(issue.status, ()) if editor.is_admin or a not in ADMIN_ONLY
    )


def recipients(session: Session, issue: Issue, action: str) -> list[tuple[str, int]]:
    """Who the action reaches, by edition in EDITIONS order: for "send", the active subscribers of each
    edition not started; for "cancel", those and the recipients still waiting in started editions."""
    from mailer.delivery.stats import progress
    from subscribers.service import counts

    by = counts(session)
    unstarted = _unstarted(issue)
    reach = [(lang, by.get((lang, "active"), 0)) for lang in EDITIONS if lang in unstarted]
    if action == "cancel":
        waiting = progress(session, issue).waiting
        if waiting:
            reach.append(("waiting", waiting))
    return reach


def reason_text(reason: str | None, lang: str) -> str:
    """An issue's status reason (mailer.issues.reasons) in the page's language. An editor's own words
    and the provider's error are kept as written, and so is a reason stored before codes."""
    coded = decode(reason)
    if coded is None:
        return reason or ""
    t, p = texts(lang), coded.params
    if coded.code == reasons.PAUSED:
        if "name" not in p:
            return t._("Paused by an editor.")
        if "why" not in p:
            return t._("Paused by %(name)s.", name=p["name"])
        return t._("Paused by %(name)s: %(why)s", name=p["name"], why=p["why"])
    if coded.code == reasons.CANCELLED:
        return t._("Cancelled by an editor.")
    if coded.code == reasons.BATCHES_FAILED:
        count = int(p.get("count", 0))
        return t.ngettext("%(num)s batch failed.", "%(num)s batches failed.", count)
    if coded.code == reasons.CREDENTIALS_REFUSED:
        return t._(
            "SendGrid refused the mailer's credentials (%(error)s). Whoever runs the mailer must "
            "fix MAILER_SENDGRID_API_KEY; then the issue can be resumed.",
            error=p.get("error", ""),
        )
    return reasons.english(reason)


def _refusal(issue: Issue, action: str, lang: str) -> str:
    t = texts(lang)
    return t._(
        "Issue #%(number)s is %(status)s, so you cannot %(action)s it now.",
        number=issue.number,
        status=t.label("status", issue.status),
        action=t.label("act", action),
    )


def _issue_page(
    request: Request, session: Session, editor: Editor, number: int, status_code: int, error: str
):
    from mailer.web.admin.issue_pages import issue_view

    return issue_view(request, session, editor, number, status_code, error=error)


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
    if action not in ("send", "pause", "resume", "cancel"):
        return Response(t._("Unknown action."), status_code=400)
    try:
        issue = get_issue(session, number)
    except IssueError:
        return Response(t._("There is no issue #%(number)s.", number=number), status_code=404)
    if action not in actions_for(issue, editor):
        if action in ADMIN_ONLY and not editor.is_admin:
            return _issue_page(
                request,
                session,
                editor,
                number,
                403,
                t._("Only an admin can do that. Ask an admin."),
            )
        return _issue_page(request, session, editor, number, 409, _refusal(issue, action, lang))
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
    settings = runtime.settings
    actions = {
        "send": lambda: facade.send_now(runtime, number),
        "resume": lambda: facade.resume(runtime, number),
        "pause": lambda: facade.pause(runtime, number, why),
        "cancel": lambda: facade.cancel(runtime, number),
    }
    session.commit()  # the facade works in transactions of its own
    try:
        actions[action]()
    except InvalidTransition:  # another editor or a worker moved it first
        session.rollback()
        issue = get_issue(session, number)
        return _issue_page(request, session, editor, number, 409, _refusal(issue, action, lang))
    except (IssueError, RenderError) as exc:
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
        return _issue_page(request, session, editor, number, 409, refusal)
    return back(f"/admin/issues/{number}", n="done")
