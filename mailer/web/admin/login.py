"""Logging in and out of the editor's desk, and the OpenAPI schema it alone may read."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from mailer.db import utcnow
from mailer.web import csrf
from mailer.web.admin import accounts, sessions
from mailer.web.admin.auth import check_csrf, require_editor
from mailer.web.admin.pages import CurrentEditor, FormField, back, page, page_lang
from mailer.web.deps import DbSession, settings_of
from mailer.web.i18n import texts
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


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/admin"):
    return page(
        request,
        "login",
        login_csrf=csrf.issue(settings_of(request), csrf.ADMIN_LOGIN),
        next=_safe_next(next),
    )


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
    if not csrf.verify(settings, csrf_token, csrf.ADMIN_LOGIN):
        error = t._("The form expired. Reload the page and try again.")
    elif wait := throttle.retry_after(name, client):
        # Refused before the password is checked: a guess made while locked out is never tried.
        status, headers, error = (
            429,
            {"Retry-After": str(wait)},
            t.ngettext(
                "Too many failed logins. Try again in %(num)s second.",
                "Too many failed logins. Try again in %(num)s seconds.",
                wait,
            ),
        )
    else:
        editor = accounts.authenticate(session, name, password)
        if editor is not None:
            throttle.succeeded(name, client)
            redirect = back(_safe_next(next))
            redirect.set_cookie(
                sessions.COOKIE,
                sessions.start(session, editor.id, utcnow(), settings),
                **sessions.cookie_options(settings),
            )
            return redirect
        throttle.failed(name, client)
        error = t._("Wrong user name or password.")
    response = page(
        request,
        "login",
        status,
        login_csrf=csrf.issue(settings, csrf.ADMIN_LOGIN),
        next=_safe_next(next),
        error=error,
        name=name,
    )
    response.headers.update(headers)
    return response


@router.post("/logout")
def logout(request: Request, session: DbSession, editor: CurrentEditor, csrf_token: FormField = ""):
    check_csrf(request, csrf_token)
    sessions.end(session, request.cookies.get(sessions.COOKIE))
    response = back("/admin/login")
    response.delete_cookie(sessions.COOKIE, path="/admin")
    return response
