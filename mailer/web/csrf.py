"""CSRF tokens for the subscribe and preference forms: signed, timed, one purpose each.

The public pages keep no session and set no cookie (unsubscribe must work without one), so the
token is stateless: it proves the form came from this site recently and, for the preference
centre, for that subscriber. The link's own token stays the credential.
"""

from __future__ import annotations

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
