"""The desk's accounts page, for admins: list editors with their role and live sessions, add
one, reset a password (which ends their sessions) and end every session of an account."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from mailer.db import utcnow
from mailer.issues.models import Editor, Role
from mailer.web.admin import accounts, sessions
from mailer.web.admin.auth import check_csrf
from mailer.web.admin.pages import CurrentAdmin, FormField, back, page, page_lang
from mailer.web.admin.passwords import MIN_LENGTH, WeakPassword
from mailer.web.deps import DbSession
from mailer.web.i18n import Texts, texts
from mailer.web.labels import N_

router = APIRouter(prefix="/admin")


def _page(
    request: Request, session, editor: Editor, status_code: int = 200, **extra
) -> HTMLResponse:
    return page(
        request,
        "editors",
        status_code,
        editor=editor,
        editors=accounts.editors(session),
        live=sessions.live_counts(session, utcnow()),
        roles=Role.ALL,
        min_length=MIN_LENGTH,
        notice=request.query_params.get("n"),
        ended=request.query_params.get("ended", ""),
        **extra,
    )


@router.get("/editors", response_class=HTMLResponse)
def editors_page(request: Request, session: DbSession, editor: CurrentAdmin):
    return _page(request, session, editor)


_REFUSALS = {  # AccountError.code -> what the desk says; its params fill the placeholders
    "exists": N_("An account with that name exists already."),
    "no_editor": N_("There is no such account."),
    "name_length": N_("A name has 1 to %(max)s characters."),
}


def _refusal(exc: accounts.AccountError | WeakPassword, t: Texts) -> str:
    """Why an account change was refused, in the page's language."""
    if isinstance(exc, WeakPassword):
        return t._("That password is too weak. Use a longer, less common one.")
    # a role the form does not offer reads as a bad name, as the form can only have been altered
    message = _REFUSALS.get(exc.code, _REFUSALS["name_length"])
    return t._(message, **{"max": accounts.MAX_NAME, **exc.params})


@router.post("/editors")
def editors_change(
    request: Request,
    session: DbSession,
    editor: CurrentAdmin,
    action: FormField = "",
    name: FormField = "",
    password: FormField = "",
    role: FormField = "",
    csrf_token: FormField = "",
):
    check_csrf(request, csrf_token)
    t = texts(page_lang(request))
    now = utcnow()
    try:
        if action == "add":
            if role not in Role.ALL:
                return _page(request, session, editor, 400, error=t._("Unknown action."))
            accounts.create_user(session, name, password, role)
            session.commit()
            return back("/admin/editors", n="editor_added")
        if action == "password":
            ended = accounts.set_password(session, name, password, now)
        elif action == "logout":
            ended = accounts.logout_all(session, name, now)
        else:
            return _page(request, session, editor, 400, error=t._("Unknown action."))
    except (accounts.AccountError, WeakPassword) as exc:
        session.rollback()
        return _page(request, session, editor, 400, error=_refusal(exc, t))
    session.commit()
    if name.strip() == editor.name:  # their own sessions ended, this one too: log in again
        return back("/admin/login")
    return back(
        "/admin/editors",
        n="password_reset" if action == "password" else "sessions_ended",
        ended=ended,
    )
