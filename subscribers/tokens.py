"""Signed tokens, one purpose each; old secret keys still verify so rotation breaks no link.

Tokens carry the time they were made, so a link can be checked against the subscriber it names: a
link older than its subscriber's row was made for someone else (an erased subscriber whose id the
database handed out again) and is refused. Links made before tokens carried a time still verify.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from itsdangerous import BadData, URLSafeSerializer, URLSafeTimedSerializer

from mailer.config import Settings
from mailer.langs import EDITIONS

CONFIRM = "confirm"
UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
# One token for all of a digest's subscriber links, unsubscribe, preferences and the footer's edition
# switch: they travel in the same email, and the preference centre alone can do what the other two do,
# so it grants nothing any of them does not, and a send signs once per recipient instead of three times.
# The pages of these purposes take it; a token of one purpose still opens only its own page.
LINKS = "links"
EDITION = "edition"
# "Still want this?" (subscribers.sunset): its own purpose, so it opens its own page and nothing else.
STAY = "stay"
PURPOSES = (CONFIRM, UNSUBSCRIBE, PREFERENCES, LINKS, EDITION, STAY)
SHARED = (UNSUBSCRIBE, PREFERENCES, EDITION)  # the purposes whose pages also take a LINKS token
CONFIRM_MAX_AGE_DAYS = 7
CONFIRM_MAX_AGE = CONFIRM_MAX_AGE_DAYS * 24 * 3600  # what a confirmation link is valid for


class InvalidToken(Exception):
    """Tampered, expired or meant for another purpose; says nothing more on purpose."""


@dataclass(frozen=True)
class Claim:
    subscriber_id: int
    issued_at: datetime | None  # None: a link from before tokens carried their time
    lang: str | None = None  # confirmation links: the language chosen on the form


def signing_keys(settings: Settings) -> list[str]:
    """itsdangerous signs with the last key and verifies with any of them."""
    return [k.get_secret_value() for k in settings.old_secret_keys] + [
        settings.secret_key.get_secret_value()
    ]


def _check(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")


def _timed(purpose: str, settings: Settings) -> URLSafeTimedSerializer:
    _check(purpose)
    return URLSafeTimedSerializer(signing_keys(settings), salt=f"mailer.{purpose}")


def _untimed(purpose: str, settings: Settings) -> URLSafeSerializer:
    _check(purpose)
    return URLSafeSerializer(signing_keys(settings), salt=f"mailer.{purpose}")


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> bytes:
    """URL-safe base64 without padding, as itsdangerous writes it (binascii: no Python-level wrappers)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


@lru_cache(maxsize=32)
def _mac(purpose: str, secret: str) -> hmac.HMAC:
    """itsdangerous' defaults with the key derived once per purpose and secret instead of once per
    token: "django-concat" (SHA-1 of salt + b"signer" + secret), then HMAC-SHA1. Each token signs with
    a copy of this keyed HMAC, which is never updated itself; a send signs one token per recipient."""
    _check(purpose)
    derived = hashlib.sha1(f"mailer.{purpose}".encode() + b"signer" + secret.encode()).digest()
    return hmac.new(derived, digestmod=hashlib.sha1)


_FAST_MAX_DIGITS = (
    10  # itsdangerous zlibs a payload when that is shorter; never so for 10 bytes or fewer
)


@lru_cache(maxsize=2)
def _b64_time(now: int) -> bytes:
    return _b64(now.to_bytes((now.bit_length() + 7) // 8 or 1, "big"))


def _stamp() -> bytes:
    return b"." + _b64_time(int(time.time()))


def _fast_token(mac: hmac.HMAC, subscriber_id: object, stamp: bytes) -> str | None:
    """Byte for byte what URLSafeTimedSerializer(...).dumps(subscriber_id) makes (a test pins it) for
    an int of at most ten digits, at a fraction of the cost; None for anything else. The value signed
    is base64(id) "." base64(time); the token is that value, ".", and its HMAC-SHA1 under the key."""
    if type(subscriber_id) is not int:
        return None
    payload = str(subscriber_id).encode()
    if len(payload) > _FAST_MAX_DIGITS:
        return None
    value = _b64(payload) + stamp
    signer = mac.copy()
    signer.update(value)
    return (value + b"." + _b64(signer.digest())).decode("ascii")


def make_token(
    purpose: str, subscriber_id: int, settings: Settings, *, lang: str | None = None
) -> str:
    if lang is not None and (purpose != CONFIRM or lang not in EDITIONS):
        raise ValueError("only a confirmation link carries a language: ko, en or both")
    if lang is None:
        mac = _mac(purpose, settings.secret_key.get_secret_value())
        token = _fast_token(mac, subscriber_id, _stamp())
        if token is not None:
            return token
    payload = subscriber_id if lang is None else [subscriber_id, lang]
    return _timed(purpose, settings).dumps(payload)


def _claim(value, issued_at: datetime | None) -> Claim:
    if isinstance(value, int) and not isinstance(value, bool):
        return Claim(value, issued_at)
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int)
        and not isinstance(value[0], bool)
        and value[1] in EDITIONS
    ):
        return Claim(value[0], issued_at, value[1])
    raise InvalidToken()


def read(purpose: str, token: str, settings: Settings) -> Claim:
    max_age = CONFIRM_MAX_AGE if purpose == CONFIRM else None
    try:
        value, issued_at = _timed(purpose, settings).loads(
            token, max_age=max_age, return_timestamp=True
        )
        return _claim(value, issued_at)
    except BadData as exc:
        if purpose == CONFIRM:  # confirmation links always carried their time, and expire
            raise InvalidToken() from exc
    if purpose in SHARED:
        try:
            value, issued_at = _timed(LINKS, settings).loads(token, return_timestamp=True)
            return _claim(value, issued_at)
        except BadData:
            pass
    try:  # an unsubscribe or preferences link sent before tokens carried their time
        return _claim(_untimed(purpose, settings).loads(token), None)
    except BadData as exc:
        raise InvalidToken() from exc


def link(purpose: str, subscriber_id: int, settings: Settings, *, lang: str | None = None) -> str:
    return f"{settings.public_base}/{purpose}/{make_token(purpose, subscriber_id, settings, lang=lang)}"


def shared_link_maker(
    pages: tuple[str, ...], settings: Settings
) -> Callable[[int], tuple[str, ...]]:
    """For one subscriber after another, a link to each of `pages` (of SHARED) carrying one LINKS token:
    what a send puts in every digest. The keys are set up once, and the links carry the time the maker
    was made (a send makes one per batch); each is the link that link() would make with a LINKS token."""
    if not set(pages) <= set(SHARED):
        raise ValueError(f"only {', '.join(SHARED)} pages take a shared token")
    base, mac = settings.public_base, _mac(LINKS, settings.secret_key.get_secret_value())
    prefixes = [f"{base}/{page}/" for page in pages]
    stamp = _stamp()

    def make(subscriber_id: int) -> tuple[str, ...]:
        token = _fast_token(mac, subscriber_id, stamp) or make_token(LINKS, subscriber_id, settings)
        return tuple([prefix + token for prefix in prefixes])  # a list: cheaper than a generator

    return make
