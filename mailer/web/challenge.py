"""The embeddable sign-up form's proof of work: ALTCHA challenges (the `altcha` library, PoW v2), in
place of a CSRF token, which another site's page cannot have.

A challenge is signed with keys derived from MAILER_SECRET_KEY (the old keys still verify one issued
before a rotation), lives MAX_AGE_SECONDS, and is accepted once: its signature is recorded in the
key-value store until it would have expired anyway. Deterministic mode: the server draws the counter,
so a browser tries about as many keys as the difficulty says, and checking a solution costs one HMAC.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
from dataclasses import dataclass
from enum import StrEnum

import altcha

from mailer.config import Settings
from mailer.kv import Store
from subscribers.tokens import signing_keys

ALGORITHM = "PBKDF2/SHA-256"  # in every widget's bundle, and WebCrypto does it natively
MAX_AGE_SECONDS = 20 * 60  # a form is filled in within minutes; the widget fetches a new one after
PAYLOAD_MAX_CHARS = 4096  # a solved challenge is about 700 characters
USED_PREFIX = "mailer:altcha:used"


@dataclass(frozen=True)
class Difficulty:
    cost: int  # PBKDF2 iterations a try
    low: int  # the counter the browser must find is drawn from [low, high)
    high: int


# About 3,000 tries of 1,000 iterations: a second or two in a phone's browser, in a worker; a bot
# signing up strangers pays that for every address, on top of the per-network limits.
DIFFICULTY = Difficulty(cost=1_000, low=1_000, high=5_000)


class Verdict(StrEnum):
    SOLVED = "solved"
    MISSING = "missing"  # no payload: the widget did not run, or the post skipped it
    EXPIRED = "expired"
    FORGED = "forged"  # not ours, altered, or not solved
    USED = "used"  # solved, but accepted once already


def _derived(key: str, purpose: str) -> str:
    """A key of its own for each use of the secret, so no ALTCHA signature is any other token's."""
    return hmac.new(key.encode(), f"mailer.altcha.{purpose}".encode(), hashlib.sha256).hexdigest()


def issue(settings: Settings, now: float, difficulty: Difficulty = DIFFICULTY) -> dict:
    """A new challenge as the widget fetches it: {"parameters": {...}, "signature": "..."}."""
    key = signing_keys(settings)[-1]
    counter = difficulty.low + secrets.randbelow(max(1, difficulty.high - difficulty.low))
    challenge = altcha.create_challenge(
        ALGORITHM,
        difficulty.cost,
        counter=counter,
        expires_at=int(now) + MAX_AGE_SECONDS,
        hmac_secret=_derived(key, "challenge"),
        hmac_key_secret=_derived(key, "key"),
    )
    return challenge.to_dict()


@dataclass(frozen=True)
class Checked:
    verdict: Verdict
    signature: str = ""  # the solved challenge's own signature: what marks it used
    expires_at: int = 0


def _parsed(payload: str) -> tuple[str, int] | None:
    try:
        challenge = json.loads(base64.b64decode(payload, validate=True))["challenge"]
        signature, expires_at = challenge["signature"], challenge["parameters"]["expiresAt"]
    except (ValueError, binascii.Error, KeyError, TypeError, RecursionError):
        return None
    if not isinstance(signature, str) or not isinstance(expires_at, int):
        return None
    return signature, expires_at


def check(settings: Settings, payload: str | None) -> Checked:
    """Whether `payload` (the widget's field, base64 JSON) solves a challenge of ours still alive."""
    if not payload:
        return Checked(Verdict.MISSING)
    if len(payload) > PAYLOAD_MAX_CHARS:
        return Checked(Verdict.FORGED)
    for key in reversed(signing_keys(settings)):
        result = altcha.verify_solution(
            payload, _derived(key, "challenge"), hmac_key_secret=_derived(key, "key")
        )
        if result.expired:
            return Checked(Verdict.EXPIRED)
        if result.verified:
            parsed = _parsed(payload)
            if parsed is None:  # verified, so it parsed; a challenge of ours always expires
                return Checked(Verdict.FORGED)
            return Checked(Verdict.SOLVED, *parsed)
    return Checked(Verdict.FORGED)


def spend(store: Store, checked: Checked, now: float) -> bool:
    """Mark a solved challenge used; False when it was already. One atomic increment (Redis INCR in
    one MULTI with its expiry), so two posts racing with one solution cannot both win."""
    ttl = max(1, math.ceil(checked.expires_at - now) + 60)
    digest = hashlib.sha256(checked.signature.encode()).hexdigest()
    return store.incr(f"{USED_PREFIX}:{digest}", 1, ttl) == 1
