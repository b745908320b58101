"""CSRF tokens for the subscribe and preference forms: signed, timed, one purpose each.

The public pages keep no session and set no cookie (unsubscribe must work without one), so the
token is stateless: it proves the form came from this site recently and, for the preference
centre, for that subscriber. The link's own token stays the credential.

A form that starts a session (the desk's login) is bound to a pre-session cookie as well: a random
value set with the form, HttpOnly and SameSite=Lax, whose hash the token signs. A foreign page can
post the form (with a token it fetched itself) but cannot make the victim's browser send the cookie
that token was made for, so it cannot log the victim into the attacker's account.
"""

from __future__ import annotations

import hashlib
import secrets

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
        return _serializer(purpose, settings).loads(token, max_age=MAX_AGE) == subject
    except BadData:
        return False


PRE_SESSION_BYTES = 32
MAX_PRE_SESSION = 100  # a longer cookie is none of ours: not even hashed


def pre_session_cookie(current: str | None) -> tuple[str, bool]:
    """The pre-session value to bind a form to: the browser's own if it sent one, else a new one.
    Returns (value, is_new); a new one must be set on the response (`pre_session_options`)."""
    if current and len(current) <= MAX_PRE_SESSION:
        return current, False
    return secrets.token_urlsafe(PRE_SESSION_BYTES), True


def pre_session_options(settings: Settings, path: str) -> dict:
    return {
        "httponly": True,
        "samesite": "lax",
        "secure": settings.public_url.startswith("https://"),
        "path": path,
        "max_age": MAX_AGE,
    }


def binding(cookie: str) -> str:
    """What a bound token signs: the cookie's hash, so the page never shows the cookie itself."""
    return hashlib.sha256(cookie.encode()).hexdigest()


def issue_bound(settings: Settings, purpose: str, cookie: str) -> str:
    return issue(settings, purpose, binding(cookie))


def verify_bound(settings: Settings, token: str | None, purpose: str, cookie: str | None) -> bool:
    if not cookie or len(cookie) > MAX_PRE_SESSION:
        return False
    return verify(settings, token, purpose, binding(cookie))
