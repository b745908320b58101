"""Signed tokens, one purpose each; old secret keys still verify so rotation breaks no link."""

from __future__ import annotations

from itsdangerous import BadData, URLSafeSerializer, URLSafeTimedSerializer

from mailer.config import Settings, get_settings

CONFIRM = "confirm"
UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
PURPOSES = (CONFIRM, UNSUBSCRIBE, PREFERENCES)
CONFIRM_MAX_AGE = 7 * 24 * 3600  # a confirmation link is valid for 7 days


class InvalidToken(Exception):
    """Tampered, expired or meant for another purpose; says nothing more on purpose."""


def _keys(settings: Settings) -> list[str]:
    # itsdangerous signs with the last key and verifies with any of them.
    return [k.get_secret_value() for k in settings.old_secret_keys] + [settings.secret_key.get_secret_value()]


def _serializer(purpose: str, settings: Settings):
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    cls = URLSafeTimedSerializer if purpose == CONFIRM else URLSafeSerializer
    return cls(_keys(settings), salt=f"mailer.{purpose}")


def make_token(purpose: str, subscriber_id: int, settings: Settings | None = None) -> str:
    return _serializer(purpose, settings or get_settings()).dumps(subscriber_id)


def read_token(purpose: str, token: str, settings: Settings | None = None) -> int:
    serializer = _serializer(purpose, settings or get_settings())
    try:
        if purpose == CONFIRM:
            value = serializer.loads(token, max_age=CONFIRM_MAX_AGE)
        else:
            value = serializer.loads(token)
    except BadData as exc:
        raise InvalidToken() from exc
    if not isinstance(value, int):
        raise InvalidToken()
    return value


def link(purpose: str, subscriber_id: int, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return f"{settings.public_base}/{purpose}/{make_token(purpose, subscriber_id, settings)}"
