"""The editor's session: a signed, timed cookie (no server-side store), HttpOnly and SameSite=Lax,
Secure when the site is served over https. It carries the editor's id and a random nonce that the
admin forms' CSRF tokens are bound to."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeTimedSerializer

from mailer.config import Settings
from subscribers.tokens import signing_keys

COOKIE = "mailer_admin"
LANG_COOKIE = "mailer_admin_lang"


@dataclass(frozen=True)
class Claim:
    editor_id: int
    nonce: str


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_keys(settings), salt="mailer.admin.session")


def make(editor_id: int, settings: Settings) -> str:
    return _serializer(settings).dumps({"e": editor_id, "n": secrets.token_urlsafe(16)})


def read(value: str | None, settings: Settings) -> Claim | None:
    if not value:
        return None
    try:
        data = _serializer(settings).loads(value, max_age=settings.admin_session_hours * 3600)
        return Claim(int(data["e"]), str(data["n"]))
    except (BadData, KeyError, TypeError, ValueError):
        return None


def cookie_options(settings: Settings) -> dict:
    return {"httponly": True, "samesite": "lax", "secure": settings.public_url.startswith("https://"),
            "path": "/admin", "max_age": settings.admin_session_hours * 3600}
