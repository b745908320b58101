"""What every page of the editor's desk shares: its language, how a page is rendered, the redirect after a
form, and the dependencies a route declares (the editor asking, a form field; its database session is
mailer.web.deps.DbSession)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from mailer.issues.models import Editor
from mailer.web import language
from mailer.web.admin import sessions
from mailer.web.admin.auth import AdminOnly, csrf_token, require_admin, require_editor
from mailer.web.deps import settings_of
from mailer.web.i18n import texts

CurrentEditor = Annotated[Editor, Depends(require_editor)]
CurrentAdmin = Annotated[Editor, Depends(require_admin)]
FormField = Annotated[str, Form()]


# Pages where ?lang= filters by the subscribers' language (as /admin/subscribers?q=&status=&lang= is
# documented, or the welcome mail's preview by edition): their own language is switched with ?ui= instead.
LANG_FILTER_PATHS = frozenset(
    {
        "/admin/subscribers",
        "/admin/subscribers/import",
        "/admin/mails/welcome",
        "/admin/mails/reengage",
    }
)


def _switch_param(request: Request) -> str:
    return "ui" if request.url.path in LANG_FILTER_PATHS else "lang"


# A notice after a form (and the addresses a test went to) is said once: the switch does not repeat it.
ONCE = frozenset({"n", "to"})


def switch_url(request: Request, lang: str) -> str:
    """The same page in `lang`, with its query (a list's filters, its page) kept."""
    param = _switch_param(request)
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != param and k not in ONCE]
    return f"{request.url.path}?{urlencode([*kept, (param, lang)])}"


def page_lang(request: Request) -> str:
    asked = request.query_params.get(_switch_param(request))
    if asked in language.PAGE_LANGS:
        return asked
    saved = request.cookies.get(sessions.LANG_COOKIE)
    return (
        saved
        if saved in language.PAGE_LANGS
        else language.from_accept_language(request.headers.get("accept-language"))
    )


def page(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    lang = page_lang(request)
    other = language.other(lang)
    response = request.app.state.templates.TemplateResponse(
        request,
        f"admin/{template}.html",
        {
            "lang": lang,
            "other_lang": other,
            "switch_url": switch_url(request, other),
            "csrf_token": csrf_token(request) if hasattr(request.state, "nonce") else "",
            **context,
        },
        status_code=status_code,
    )
    if (
        request.query_params.get(_switch_param(request)) in language.PAGE_LANGS
    ):  # the switch is remembered
        response.set_cookie(
            sessions.LANG_COOKIE,
            lang,
            max_age=365 * 86400,
            path="/admin",
            samesite="lax",
            httponly=True,
            secure=settings_of(request).public_url.startswith("https://"),
        )
    return response


def back(url: str, **params) -> RedirectResponse:
    return RedirectResponse(url + ("?" + urlencode(params) if params else ""), status_code=303)


def admin_only(request: Request, _exc: AdminOnly) -> HTMLResponse:
    """An editor's request for an admin's page or action: refused in the page's language."""
    return page(
        request,
        "refused",
        403,
        editor=None,
        error=texts(page_lang(request))._("Only an admin can do that. Ask an admin."),
    )


def number(value: int) -> str:
    """1445 -> 1,445 (the same in Korean and English)."""
    return f"{value:,}"
