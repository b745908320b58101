"""Editor accounts: created from the command line, checked at login."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.issues.models import Editor, Role
from mailer.web.admin import sessions, two_factor
from mailer.web.admin.passwords import DUMMY_HASH, hash_password, verify_password

MAX_NAME = 100


class AccountError(ValueError):
    """A refused account change: an English message for the CLI, a `code` and `params` for the desk."""

    def __init__(self, message: str, code: str, **params: object):
        super().__init__(message)
        self.code = code
        self.params = params


def create_user(session: Session, name: str, password: str, role: str | None = None) -> Editor:
    """`role` None: an admin while there is none (the first account can make the others), else an editor."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise AccountError(
            f"a user name has 1 to {MAX_NAME} characters", "name_length", max=MAX_NAME
        )
    if role is not None and role not in Role.ALL:
        raise AccountError(
            f"a role is {' or '.join(Role.ALL)}, not {role!r}", "bad_role", role=role
        )
    if _named(session, name):
        raise AccountError(f"user {name!r} exists already", "exists", name=name)
    if role is None:
        role = (
            Role.EDITOR
            if session.scalar(select(Editor.id).where(Editor.role == Role.ADMIN).limit(1))
            else Role.ADMIN
        )
    editor = Editor(name=name, password_hash=hash_password(password), role=role)
    session.add(editor)
    session.flush()
    return editor


def _named(session: Session, name: str) -> Editor | None:
    return session.scalar(select(Editor).where(Editor.name == name.strip()))


def _existing(session: Session, name: str) -> Editor:
    editor = _named(session, name)
    if editor is None:
        raise AccountError(f"no editor {name!r}", "no_editor", name=name)
    return editor


def set_password(session: Session, name: str, password: str, now) -> int:
    """A new password for an existing editor; every session of theirs ends. Returns how many were live."""
    editor = _existing(session, name)
    editor.password_hash = hash_password(password)
    return sessions.end_all(session, editor.id, now)


def logout_all(session: Session, name: str, now) -> int:
    """`mailer admin logout-all NAME`: end every session of the editor at once."""
    return sessions.end_all(session, _existing(session, name).id, now)


def reset_2fa(session: Session, name: str, now) -> tuple[bool, int]:
    """`mailer admin reset-2fa NAME`, for a lost phone: two-factor login off, recovery codes and every
    session of the editor gone. Returns whether it was on, and how many sessions were live."""
    editor = _existing(session, name)
    was_on = editor.has_2fa
    two_factor.disable(session, editor)
    return was_on, sessions.end_all(session, editor.id, now)


def editors(session: Session) -> list[Editor]:
    return list(session.scalars(select(Editor).order_by(Editor.name)))


def authenticate(session: Session, name: str, password: str) -> Editor | None:
    editor = _named(session, name)
    ok = verify_password(password, editor.password_hash if editor else DUMMY_HASH)
    return editor if editor and ok else None
