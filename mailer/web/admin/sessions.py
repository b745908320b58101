"""The editor's session, kept on the server: the cookie holds a random id, the database its SHA-256 with
the editor, expiry and last use. Logout, a password change and `mailer admin logout-all` delete the rows,
which ends those sessions at once. The cookie is HttpOnly and SameSite=Lax, Secure over https. The
admin forms' CSRF tokens are bound to the session (its hash), so a form outlives no session."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.issues.models import EditorSession

COOKIE = "mailer_admin"
LANG_COOKIE = "mailer_admin_lang"
TOKEN_BYTES = 32
MAX_COOKIE = 100  # a longer cookie is no session of ours: not even hashed
TOUCH_EVERY = timedelta(minutes=1)  # last use is written at most this often, not on every request


@dataclass(frozen=True)
class Claim:
    editor_id: int
    nonce: str  # the CSRF binding: the session's hash, known only to the server and the cookie's holder


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, editor_id: int, now: datetime, settings: Settings) -> str:
    """A new session for the editor; returns the cookie's value (the only copy of the id)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        EditorSession(
            editor_id=editor_id,
            token_hash=_hash(token),
            created_at=now,
            last_used_at=now,
            expires_at=now + timedelta(hours=settings.admin_session_hours),
        )
    )
    session.flush()
    return token


def read(session: Session, token: str | None, now: datetime) -> Claim | None:
    """The live session the cookie names, or None (unknown, ended or expired)."""
    if not token or len(token) > MAX_COOKIE:
        return None
    digest = _hash(token)
    row = session.execute(
        select(EditorSession.id, EditorSession.editor_id, EditorSession.last_used_at).where(
            EditorSession.token_hash == digest, EditorSession.expires_at > now
        )
    ).one_or_none()
    if row is None:
        return None
    if now - row.last_used_at >= TOUCH_EVERY:
        session.execute(
            update(EditorSession).where(EditorSession.id == row.id).values(last_used_at=now)
        )
    return Claim(row.editor_id, digest)


def end(session: Session, token: str | None) -> None:
    if token and len(token) <= MAX_COOKIE:
        session.execute(delete(EditorSession).where(EditorSession.token_hash == _hash(token)))


def end_all(session: Session, editor_id: int, now: datetime) -> int:
    """Every session of the editor, and every expired one of anybody's; returns how many of theirs were live."""
    session.execute(delete(EditorSession).where(EditorSession.expires_at <= now))
    return session.execute(  # type: ignore[attr-defined]  # execute() is typed Result; DML gives a CursorResult
        delete(EditorSession).where(EditorSession.editor_id == editor_id)
    ).rowcount


def live_counts(session: Session, now: datetime) -> dict[int, int]:
    """Live sessions per editor id (for the accounts page)."""
    rows = session.execute(
        select(EditorSession.editor_id, func.count())
        .where(EditorSession.expires_at > now)
        .group_by(EditorSession.editor_id)
    )
    return {editor_id: n for editor_id, n in rows}


def cookie_options(settings: Settings) -> dict:
    return {
        "httponly": True,
        "samesite": "lax",
        "secure": settings.public_url.startswith("https://"),
        "path": "/admin",
        "max_age": settings.admin_session_hours * 3600,
    }
