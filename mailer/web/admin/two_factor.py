"""Two-factor login for desk accounts: turning it on (a code confirms the new secret, then ten recovery
codes are shown once), checking the second step of a login, turning it off, and the CLI's reset.

A code is spent when used: the account keeps the last time step that logged in, and a compare-and-set
on it lets one request win when two bring the same code. A recovery code's row is deleted by its use,
so it works once. Between the password and the code, the browser holds a short-lived signed token
bound to its login form's pre-session cookie, not a session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.issues.models import Editor, RecoveryCode
from mailer.web import csrf
from mailer.web.admin import totp
from mailer.web.admin.passwords import verify_password
from subscribers.tokens import signing_keys

SECOND_STEP_MAX_AGE = 300  # seconds between the password and the code


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret as text and as a QR code, and the form's token."""

    secret: str
    token: str
    uri: str
    svg: str


def enrolment(settings: Settings, editor: Editor, secret: str | None = None) -> Enrolment:
    secret = secret or totp.new_secret()
    uri = totp.provisioning_uri(secret, editor.name, settings.from_name_en)
    return Enrolment(
        secret, totp.enrolment_token(settings, editor.id, secret), uri, totp.qr_svg(uri)
    )


def _use_step(session: Session, editor: Editor, step: int) -> bool:
    """Spend a time step's code: false when another request spent it (or a later one) first."""
    won = session.execute(  # type: ignore[attr-defined]  # DML gives a CursorResult
        update(Editor)
        .where(
            Editor.id == editor.id,
            or_(Editor.totp_last_step.is_(None), Editor.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(editor)
    return won == 1


def _new_recovery_codes(session: Session, settings: Settings, editor: Editor) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.editor_id == editor.id))
    codes = totp.new_recovery_codes()
    session.add_all(
        RecoveryCode(editor_id=editor.id, code_hash=totp.recovery_hashes(settings, code)[0])
        for code in codes
    )
    session.flush()
    return codes


def enable(
    session: Session, settings: Settings, editor: Editor, token: str, code: str, now: datetime
) -> list[str] | None:
    """Turn two-factor login on if `code` is the enrolment secret's; returns the recovery codes (to
    show once), or None for a wrong code. Raises ValueError when the enrolment token is no good."""
    secret = totp.enrolment_secret(settings, token, editor.id)
    if secret is None:
        raise ValueError("the enrolment expired")
    step = totp.matching_step(secret, code, now.timestamp(), None)
    if step is None:
        return None
    editor.totp_secret = totp.seal(settings, secret)
    editor.totp_enabled_at = now
    editor.totp_last_step = step  # the code that confirmed it does not also log in
    session.flush()
    return _new_recovery_codes(session, settings, editor)


def check_code(
    session: Session, settings: Settings, editor: Editor, code: str, now: datetime
) -> bool:
    """The login's second step, or a change that asks for a current code: a TOTP code not used before."""
    secret = totp.unseal(settings, editor.totp_secret)
    if secret is None or not editor.has_2fa:
        return False
    step = totp.matching_step(secret, code, now.timestamp(), editor.totp_last_step)
    return step is not None and _use_step(session, editor, step)


def use_recovery_code(session: Session, settings: Settings, editor: Editor, code: str) -> bool:
    if not editor.has_2fa or len(code) > 40:
        return False
    used = session.execute(  # type: ignore[attr-defined]  # DML gives a CursorResult
        delete(RecoveryCode).where(
            RecoveryCode.editor_id == editor.id,
            RecoveryCode.code_hash.in_(totp.recovery_hashes(settings, code)),
        )
    ).rowcount
    return used > 0


def check_second_step(
    session: Session, settings: Settings, editor: Editor, code: str, now: datetime
) -> bool:
    """A current code from the app, or else one of the recovery codes (each works once)."""
    if len(totp.digits(code)) == totp.DIGITS:
        return check_code(session, settings, editor, code, now)
    return use_recovery_code(session, settings, editor, code)


def check_proof(
    session: Session, settings: Settings, editor: Editor, proof: str, now: datetime
) -> bool:
    """Turning it off or new recovery codes: a current code, or the account's password."""
    if len(totp.digits(proof)) == totp.DIGITS and check_code(session, settings, editor, proof, now):
        return True
    return verify_password(proof, editor.password_hash)


def new_recovery_codes(session: Session, settings: Settings, editor: Editor) -> list[str]:
    """A fresh set of ten, the old ones void."""
    return _new_recovery_codes(session, settings, editor)


def recovery_left(session: Session, editor: Editor) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.editor_id == editor.id)
        )
        or 0
    )


def disable(session: Session, editor: Editor) -> None:
    editor.totp_secret = None
    editor.totp_enabled_at = None
    editor.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.editor_id == editor.id))
    session.flush()


def _second_step(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_keys(settings), salt="mailer.admin.second-step")


def second_step_token(settings: Settings, editor_id: int, pre_session: str) -> str:
    """The half-logged-in state: this editor's password was right, in the browser with this cookie."""
    return _second_step(settings).dumps([editor_id, csrf.binding(pre_session)])


def second_step_editor(settings: Settings, token: str, pre_session: str | None) -> int | None:
    """The editor whose password was right in this browser within the last minutes, or None."""
    if not token or not pre_session:
        return None
    try:
        editor_id, bound = _second_step(settings).loads(token, max_age=SECOND_STEP_MAX_AGE)
    except (BadData, ValueError, TypeError):
        return None
    return editor_id if bound == csrf.binding(pre_session) and isinstance(editor_id, int) else None
