"""Logging in and out of the editor's desk, and the OpenAPI schema it alone may read.

An account with two-factor login gets a second step after the right password: the code page, carrying
a short-lived token bound to the login form's pre-session cookie. The session starts only after the
code, and the code is throttled as the password is."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from mailer.db import utcnow
from mailer.issues.models import Editor
from mailer.web import csrf
from mailer.web.admin import accounts, sessions, two_factor
from mailer.web.admin.auth import check_csrf, require_editor
from mailer.web.admin.pages import CurrentEditor, FormField, back, page, page_lang
from mailer.web.deps import DbSession, settings_of
from mailer.web.i18n import Texts, texts
from mailer.web.ratelimit import client_key

router = APIRouter(prefix="/admin")


@router.get("/openapi.json", include_in_schema=False)
def openapi_schema(request: Request, session: DbSession):
    """The app's OpenAPI schema, under /admin where the editor's cookie goes: to anyone while developing,
    to a logged-in editor otherwise (it lists every admin route, which is nobody else's business)."""
    if settings_of(request).env != "development":
        require_editor(request, session)
    return JSONResponse(request.app.openapi())


def _safe_next(url: str) -> str:
    return url if url.startswith("/admin") and not url.startswith("//") else "/admin"


PRE_COOKIE = "mailer_admin_pre"  # the login form's pre-session cookie (mailer.web.csrf)


def login_page(request: Request, status_code: int = 200, **context) -> HTMLResponse:
    """The login form, bound to the browser's pre-session cookie (set here when it has none)."""
    settings = settings_of(request)
    cookie = csrf.pre_session_cookie(request, PRE_COOKIE)
    response = page(
        request,
        "login",
        status_code,
        login_csrf=csrf.issue_bound(settings, csrf.ADMIN_LOGIN, cookie),
        **context,
    )
    if cookie != csrf.pre_session_of(request, PRE_COOKIE):  # a second tab keeps the first one's
        csrf.set_pre_session_cookie(
            response, cookie, settings, name=PRE_COOKIE, path="/admin", max_age=csrf.MAX_AGE
        )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/admin"):
    return login_page(request, next=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: DbSession,
    name: FormField = "",
    password: FormField = "",
    csrf_token: FormField = "",
    next: FormField = "/admin",
):
    t = texts(page_lang(request))
    settings = settings_of(request)
    throttle, client = (
        request.app.state.login_throttle,
        client_key(request.client.host if request.client else None),
    )
    status, headers = 401, {}
    pre_session = csrf.pre_session_of(request, PRE_COOKIE)
    if not pre_session:
        # a post from a foreign page carries no cookie of ours (SameSite=Lax): nobody is logged in
        status, error = (
            403,
            t._(
                "Your browser did not send the login form's cookie. Allow cookies for this site, "
                "reload the page and try again."
            ),
        )
    elif not csrf.verify_bound(settings, csrf_token, csrf.ADMIN_LOGIN, pre_session):
        status, error = (
            403,
            t._(
                "This login form expired or was not made for this browser. Reload the page and try again."
            ),
        )
    elif wait := throttle.retry_after(name, client):
        # Refused before the password is checked: a guess made while locked out is never tried.
        status, headers, error = 429, {"Retry-After": str(wait)}, _wait(t, wait)
    else:
        editor = accounts.authenticate(session, name, password)
        if editor is not None and editor.has_2fa:
            # the failures are cleared by the code, not the password: guesses at it stay throttled
            return _code_page(
                request,
                pending=two_factor.second_step_token(settings, editor.id, pre_session),
                next=_safe_next(next),
            )
        if editor is not None:
            throttle.succeeded(name, client)
            return _logged_in(request, session, editor, next)
        throttle.failed(name, client)
        error = t._("Wrong user name or password.")
    response = login_page(request, status, next=_safe_next(next), error=error, name=name)
    response.headers.update(headers)
    return response


def _wait(t: Texts, wait: int) -> str:
    return t.ngettext(
        "Too many failed logins. Try again in %(num)s second.",
        "Too many failed logins. Try again in %(num)s seconds.",
        wait,
    )


def _logged_in(request: Request, session, editor: Editor, next: str):
    settings = settings_of(request)
    redirect = back(_safe_next(next))
    redirect.set_cookie(
        sessions.COOKIE,
        sessions.start(session, editor.id, utcnow(), settings),
        **sessions.cookie_options(settings),
    )
    return redirect


def _code_page(request: Request, status_code: int = 200, **context) -> HTMLResponse:
    return page(request, "login_code", status_code, **context)


@router.post("/login/code", response_class=HTMLResponse)
def login_code(
    request: Request,
    session: DbSession,
    pending: FormField = "",
    code: FormField = "",
    next: FormField = "/admin",
):
    """The second step: a code from the authenticator app, or a recovery code."""
    t = texts(page_lang(request))
    settings = settings_of(request)
    editor_id = two_factor.second_step_editor(
        settings, pending, csrf.pre_session_of(request, PRE_COOKIE)
    )
    editor = session.get(Editor, editor_id) if editor_id is not None else None
    if editor is None or not editor.has_2fa:
        error = t._("The login took too long or was not started in this browser. Log in again.")
        return login_page(request, 401, next=_safe_next(next), error=error)
    throttle, client = (
        request.app.state.login_throttle,
        client_key(request.client.host if request.client else None),
    )
    status, headers = 401, {}
    if wait := throttle.retry_after(editor.name, client):
        status, headers, error = 429, {"Retry-After": str(wait)}, _wait(t, wait)
    elif two_factor.check_second_step(session, settings, editor, code, utcnow()):
        throttle.succeeded(editor.name, client)
        response = _logged_in(request, session, editor, next)
        session.commit()  # the spent code or recovery code, with the session
        return response
    else:
        throttle.failed(editor.name, client)
        error = t._("That code is not right, or it was used already.")
    response = _code_page(request, status, pending=pending, next=_safe_next(next), error=error)
    response.headers.update(headers)
    return response


@router.post("/logout")
def logout(request: Request, session: DbSession, editor: CurrentEditor, csrf_token: FormField = ""):
    check_csrf(request, csrf_token)
    sessions.end(session, request.cookies.get(sessions.COOKIE))
    response = back("/admin/login")
    response.delete_cookie(sessions.COOKIE, path="/admin")
    return response
