from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    case,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailer.db import Base, UTCDateTime, one_of, utcnow
from mailer.issues.states import IssueStatus
from mailer.langs import EDITIONS, EN, KO


class Issue(Base):
    __tablename__ = "issues"
    __table_args__ = (one_of("status", IssueStatus),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    status: Mapped[str] = mapped_column(String(16), default=IssueStatus.DRAFT, index=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(
        UTCDateTime
    )  # the cutoff: the next issue starts here
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When its readers' unread counts were moved (mailer.events.unread): once, days after it finished.
    unread_counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    editions: Mapped[list[Edition]] = (
        relationship(  # in EDITIONS order (ko, en, both), as every page lists them
            back_populates="issue",
            order_by=lambda: case({lang: i for i, lang in enumerate(EDITIONS)}, value=Edition.lang),
            cascade="all, delete-orphan",
        )
    )
    stories: Mapped[list[IssueStory]] = relationship(
        order_by="(IssueStory.pinned.desc(), IssueStory.position)", cascade="all, delete-orphan"
    )


class IssueStory(Base):
    """A story picked for an issue: one article, shown in each edition in its language or its pair's."""

    __tablename__ = "issue_stories"

    issue_id: Mapped[int] = mapped_column(
        ForeignKey("issues.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    # The editor's word on the story, per language: an edition shows its own language's, never the other's.
    note_ko: Mapped[str | None] = mapped_column(Text)
    note_en: Mapped[str | None] = mapped_column(Text)

    def notes(self) -> dict[str, str | None]:
        return {KO: self.note_ko, EN: self.note_en}


class Edition(Base):
    """One language's version of an issue, rendered once and stored; never rendered per recipient."""

    __tablename__ = "editions"
    __table_args__ = (
        UniqueConstraint("issue_id", "lang"),
        one_of("lang", EDITIONS),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    lang: Mapped[str] = mapped_column(String(4))
    subject: Mapped[str] = mapped_column(String(500))
    preheader: Mapped[str] = mapped_column(String(500), default="")
    # An editor's own subject or preheader is kept; otherwise each follows the stories on every change.
    subject_edited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    preheader_edited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The issue's intro in this edition's language (ko, en); the bilingual edition shows both of those.
    note: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The random key of this rendering's subscriber-link tags (rendering.placeholders.tags): only the
    # template's tags are filled per reader, never a tag that came in with a feed or a note.
    link_tag: Mapped[str | None] = mapped_column(String(32))
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    send_tz: Mapped[str | None] = mapped_column(
        String(64)
    )  # the zone send_at was given in (None: the digest's)
    dated: Mapped[date | None] = mapped_column(
        Date
    )  # the day written on it: its send day in send_tz
    # Set once, by compare-and-set, when this edition's recipients are snapshotted: the beat tick and
    # `issue send` may race for it, and only one of them writes the ledger.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The ledger is written in blocks of subscribers, in id order, each committed and sent while the next is
    # written: the last subscriber id written, the writer's last sign of life (a silent writer's edition is
    # taken over by beat's tick) and when the last block was written (the issue cannot finish before).
    ledger_through: Mapped[int | None] = mapped_column(Integer)
    ledger_heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ledger_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A send time goes out only once approved (mailer.issues.approvals): an admin's schedule at once, a
    # plain editor's when an admin approves it. Who approved (an account's name) and when.
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(100))

    issue: Mapped[Issue] = relationship(back_populates="editions")


class DraftRun(Base):
    """Each drafting attempt (beat or editor): an empty week leaves a row here for the dashboard."""

    __tablename__ = "draft_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    stories: Mapped[int] = mapped_column(Integer, default=0)
    issue_number: Mapped[int | None] = mapped_column(
        Integer
    )  # None: an empty week, nothing drafted


class Role:
    """An editor curates, tests and schedules (an admin approves); an admin also approves, sends,
    cancels, and keeps subscribers and accounts."""

    EDITOR = "editor"
    ADMIN = "admin"
    ALL = (EDITOR, ADMIN)


class Editor(Base):
    """An account for the editor's desk (/admin), made by `mailer admin create-user` or an admin's desk."""

    __tablename__ = "editors"
    __table_args__ = (one_of("role", Role.ALL),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16), default=Role.EDITOR, server_default=Role.EDITOR)

    # Two-factor login: the TOTP secret encrypted with a key derived from MAILER_SECRET_KEY (never in
    # plain text), on since `totp_enabled_at`; the last time step whose code was used, so none is used twice.
    totp_secret: Mapped[str | None] = mapped_column(String(300))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def has_2fa(self) -> bool:
        return self.totp_enabled_at is not None

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EditorSession(Base):
    """A logged-in editor: the cookie holds a random id, this row only its SHA-256, so a stolen database
    holds no usable session. Deleting the row (logout, password change, logout-all) ends it at once."""

    __tablename__ = "editor_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    editor_id: Mapped[int] = mapped_column(ForeignKey("editors.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RecoveryCode(Base):
    """One of an editor's two-factor recovery codes, as a keyed hash: shown once, deleted when used."""

    __tablename__ = "editor_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    editor_id: Mapped[int] = mapped_column(ForeignKey("editors.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
