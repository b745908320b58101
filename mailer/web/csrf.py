"""CSRF tokens for the desk's and the public pages' forms: signed, timed, one purpose each.

A token proves the form came from this site recently and, for the preference centre, for that
subscriber (the link's own token stays the credential). The forms a stranger could misuse from a
foreign page, the sign-up (to mail anyone) and the desk's login (to log a victim into the attacker's
account), are also bound to a pre-session cookie: a random value set with the form, HttpOnly and
SameSite=Lax, whose digest the token signs. A token copied out of our page is no good in anybody
else's browser. Unsubscribing needs no cookie at all.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from fastapi import Request, Response
from itsdangerous import BadData, URLSafeTimedSerializer

from mailer.config import Settings
from subscribers.tokens import signing_keys

SUBSCRIBE = "subscribe"
PREFERENCES = "preferences"
ADMIN_LOGIN = "admin-login"
ADMIN = (
    "admin"  # bound to the editor's session nonce, so a token from one login is no good in another
)
PURPOSES = (SUBSCRIBE, PREFERENCES, ADMIN_LOGIN, ADMIN)
MAX_AGE = 24 * 3600  # a form left open for a day still submits
# A sign-up form is filled in within minutes; its token is bound to the browser's pre-session too.
MAX_AGES = {SUBSCRIBE: 2 * 3600}

PRE_SESSION_COOKIE = "mailer_pre"
_PRE_SESSION_VALUE = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


def _serializer(purpose: str, settings: Settings) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown form {purpose!r}")
    return URLSafeTimedSerializer(signing_keys(settings), salt=f"mailer.csrf.{purpose}")


def issue(settings: Settings, purpose: str, subject: str = "") -> str:
    return _serializer(purpose, settings).dumps(subject)


def verify(settings: Settings, token: str | None, purpose: str, subject: str = "") -> bool:
    if not token:
        return False
    try:
        max_age = MAX_AGES.get(purpose, MAX_AGE)
        return _serializer(purpose, settings).loads(token, max_age=max_age) == subject
    except BadData:
        return False


def pre_session_of(request: Request, name: str = PRE_SESSION_COOKIE) -> str | None:
    """The browser's pre-session value, when it sent a well-formed one."""
    value = request.cookies.get(name, "")
    return value if _PRE_SESSION_VALUE.fullmatch(value) else None


def pre_session_cookie(request: Request, name: str = PRE_SESSION_COOKIE) -> str:
    """The pre-session a form's token is bound to: the browser's own, or a new random value (which
    the page then sets with set_pre_session_cookie)."""
    return pre_session_of(request, name) or secrets.token_urlsafe(32)


def set_pre_session_cookie(
    response: Response,
    value: str,
    settings: Settings,
    *,
    name: str = PRE_SESSION_COOKIE,
    path: str = "/",
    max_age: int = MAX_AGES[SUBSCRIBE],
) -> None:
    """HttpOnly and SameSite=Lax: no script reads it, and no other site's post carries it."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="lax",
        secure=settings.public_url.startswith("https://"),
    )


def binding(value: str | None) -> str:
    """What a bound token signs: a digest, so the page never shows the cookie's own value. No cookie
    binds to a value no token carries."""
    if value is None:
        return "no pre-session"
    return hashlib.sha256(b"mailer.pre-session:" + value.encode()).hexdigest()


def issue_bound(settings: Settings, purpose: str, pre_session: str) -> str:
    return issue(settings, purpose, binding(pre_session))


def verify_bound(
    settings: Settings, token: str | None, purpose: str, pre_session: str | None
) -> bool:
    return verify(settings, token, purpose, binding(pre_session))
