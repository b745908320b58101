"""Who is asking: every /admin route but the login page depends on `require_editor`.

An anonymous GET is sent to the login page; an anonymous POST is refused (401), and a POST without
the session's CSRF token too (403), so nothing changes without a logged-in editor's own form.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse

from mailer.db import utcnow
from mailer.issues.models import Editor
from mailer.web import csrf
from mailer.web.admin import sessions
from mailer.web.deps import DbSession, settings_of


class LoginRequired(Exception):
    def __init__(self, next_url: str):
        self.next_url = next_url


def login_redirect(_request: Request, exc: LoginRequired) -> RedirectResponse:
    return RedirectResponse(f"/admin/login?next={quote(exc.next_url, safe='/')}", status_code=303)


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


class EnrolmentRequired(Exception):
    """MAILER_REQUIRE_2FA: an admin without two-factor login asked for anything but enrolling."""


ENROLMENT = "/admin/two-factor"
WHILE_UNENROLLED = frozenset({ENROLMENT, "/admin/logout"})


def enrolment_redirect(_request: Request, _exc: EnrolmentRequired) -> RedirectResponse:
    return RedirectResponse(ENROLMENT, status_code=303)


def _to_login(request: Request) -> dict[str, str]:
    """A refused post from the page's htmx: where the page goes to log in again (the page it was on)."""
    if request.headers.get("HX-Request") != "true":
        return {}
    referer = urlsplit(request.headers.get("referer", ""))
    page = referer.path if referer.path.startswith("/admin/") else "/admin"
    return {"HX-Redirect": f"/admin/login?next={quote(page, safe='/')}"}


def require_editor(request: Request, session: DbSession) -> Editor:
    """FastAPI gives this and the route the same `db_session` (one per request): one connection, not two."""
    claim = sessions.read(session, request.cookies.get(sessions.COOKIE), utcnow())
    editor = session.get(Editor, claim.editor_id) if claim is not None else None
    if claim is None or editor is None:
        if request.method in ("GET", "HEAD"):
            raise LoginRequired(_here(request))
        raise HTTPException(status_code=401, detail="log in first", headers=_to_login(request))
    request.state.nonce = claim.nonce
    if (
        settings_of(request).require_2fa
        and editor.is_admin
        and not editor.has_2fa
        and request.url.path not in WHILE_UNENROLLED
    ):
        raise EnrolmentRequired()  # nothing is read or changed until it is on
    return editor


class AdminOnly(Exception):
    """An editor asked for what only an admin may do (send, cancel, subscribers, accounts)."""


def require_admin(editor: Annotated[Editor, Depends(require_editor)]) -> Editor:
    if not editor.is_admin:
        raise AdminOnly()
    return editor


def csrf_token(request: Request) -> str:
    return csrf.issue(settings_of(request), csrf.ADMIN, request.state.nonce)


def check_csrf(request: Request, token: str) -> None:
    if not csrf.verify(settings_of(request), token, csrf.ADMIN, request.state.nonce):
        raise HTTPException(status_code=403, detail="the form expired: reload the page")
