"""Two-factor login's parts that touch no database: TOTP secrets (RFC 6238, through pyotp) kept
encrypted, the codes checked with their time step, the enrolment's QR code drawn as SVG here (segno,
no outside service), and recovery codes kept as keyed hashes.

Every key is derived from MAILER_SECRET_KEY and the old keys, as the signed links' are: a secret sealed
under an old key still opens while that key is listed in MAILER_OLD_SECRET_KEYS. A stolen database
alone holds neither a usable secret nor a recovery code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from mailer.config import Settings
from subscribers.tokens import signing_keys

DIGITS = 6
WINDOW = 1  # a code of the step just before or after also counts: a phone's clock drifts
ENROL_MAX_AGE = 3600  # an enrolment page's secret must be confirmed within an hour
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
RECOVERY_HALF = 5  # xxxxx-xxxxx: 10 characters, about 49 bits each


def _keys(settings: Settings, purpose: str) -> list[bytes]:
    """One key per secret key, the current one first."""
    return [
        hashlib.sha256(f"mailer.{purpose}:{secret}".encode()).digest()
        for secret in reversed(signing_keys(settings))
    ]


def _fernet(settings: Settings) -> MultiFernet:
    return MultiFernet([Fernet(base64.urlsafe_b64encode(k)) for k in _keys(settings, "totp")])


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends


def seal(settings: Settings, secret: str) -> str:
    return _fernet(settings).encrypt(secret.encode()).decode("ascii")


def unseal(settings: Settings, sealed: str | None, max_age: int | None = None) -> str | None:
    """The sealed text, or None when it was sealed under no key we hold, altered, or is too old."""
    if not sealed:
        return None
    try:
        return _fernet(settings).decrypt(sealed.encode("ascii"), ttl=max_age).decode()
    except (InvalidToken, UnicodeError, ValueError):
        return None


def enrolment_token(settings: Settings, editor_id: int, secret: str) -> str:
    """What the enrolment form carries until the first code confirms it: the new secret, sealed."""
    return seal(settings, json.dumps([editor_id, secret]))


def enrolment_secret(settings: Settings, token: str, editor_id: int) -> str | None:
    opened = unseal(settings, token, ENROL_MAX_AGE)
    try:
        owner, secret = json.loads(opened) if opened else (None, None)
    except (ValueError, TypeError):
        return None
    return secret if owner == editor_id and isinstance(secret, str) else None


def digits(code: str) -> str:
    """A code as typed: spaces and a dash in the middle are allowed."""
    return "".join(code.split()).replace("-", "")


def matching_step(secret: str, code: str, now: float, after: int | None) -> int | None:
    """The time step whose code `code` is, within the window, later than step `after`, or None."""
    code = digits(code)
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS)
    step = totp.timecode(int(now))
    for candidate in range(step - WINDOW, step + WINDOW + 1):
        if after is not None and candidate <= after:
            continue  # a code used once is spent, and so is every earlier one
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code, dark on white whatever the page's colour scheme."""
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff")


def new_recovery_codes() -> list[str]:
    def half() -> str:
        return "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_HALF))

    return [f"{half()}-{half()}" for _ in range(RECOVERY_CODES)]


def recovery_hashes(settings: Settings, code: str) -> list[str]:
    """The code's keyed hash under each secret key, the current one first (what is stored)."""
    typed = digits(code).lower().encode()
    return [hmac.new(key, typed, hashlib.sha256).hexdigest() for key in _keys(settings, "recovery")]
