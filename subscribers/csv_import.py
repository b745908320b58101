"""CSV import: streamed in chunks, bad rows reported by line and skipped, idempotent.

Only new addresses are inserted. An address already on file is left exactly as it is (an import
never re-activates an unsubscribed, bounced or complained subscriber, nor undoes a preference they
set), and an address on the suppression list is never brought back: both kinds of blocked address
are counted as suppressed, however often the file is imported.

What the new rows become is the importer's choice (ImportOptions): confirmed on the strength of a
consent the editor names (kept on each subscriber), or pending with a confirmation mail each (the
caller writes the mails, in the chunk's transaction, through `on_added`). Each new reader gets a
history row (action "added", source "import"), which growth counts as an import, not a sign-up.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from mailer.db import upsert_insert
from mailer.langs import EDITIONS
from subscribers import changes, suppression
from subscribers.csv_export import unescape_cell
from subscribers.csv_source import (
    EMPTY,
    HEADER,
    UNREADABLE,
    CountedBytes,
    CsvError,
    Lines,
    cut,
    text_of,
)
from subscribers.emails import InvalidEmail, normalize
from subscribers.models import SUPPRESSED, Change, Status, Subscriber

REQUIRED = ("email", "lang")
OPTIONAL = ("status", "created_at")
CHUNK_ROWS = 1000  # rows per transaction: memory stays flat, and a crash loses at most one chunk
STATUSES = tuple(s.value for s in Status)
# why a row is bad (BadRow.code); the value at fault is params["value"]
BAD_EMAIL_EMPTY = "email_empty"
BAD_EMAIL = "email_invalid"  # params["error"]: what the address check said, in English
BAD_LANG = "lang"
BAD_STATUS = "status"
BAD_CREATED_AT = "created_at"
MAX_EMAIL_CHARS = 320  # longer than any address can be (RFC 5321: 64 + 1 + 255)
# What imported rows become (ImportOptions.mode)
CONFIRMED = "confirmed"  # active on a consent the editor names (a row's own status still wins)
CONFIRM_BY_MAIL = (
    "confirm_by_mail"  # pending, each sent a confirmation mail; active once they click
)
MODES = (CONFIRMED, CONFIRM_BY_MAIL)
MAX_CONSENT_CHARS = 200
SOURCE = "import"  # Subscriber.consent_source and Change.source of an imported row
__all__ = ["CountedBytes", "CsvError", "text_of"]  # read from here by the CLI and the desk too


@dataclass(frozen=True)
class Row:
    line: int
    email: str
    lang: str
    status: str
    created_at: datetime | None


@dataclass(frozen=True)
class BadRow:
    """A row that was skipped: `code` says why (one of BAD_*), with its `params`, so the desk can say it
    in the page's language; `reason` says it in English (the CLI and its errors file)."""

    line: int
    code: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        value = self.params.get("value", "")
        if self.code == BAD_EMAIL_EMPTY:
            return "email is empty"
        if self.code == BAD_LANG:
            return f"lang must be one of {', '.join(EDITIONS)}, not {value!r}"
        if self.code == BAD_STATUS:
            return f"status must be one of {', '.join(STATUSES)}, not {value!r}"
        if self.code == BAD_CREATED_AT:
            return f"created_at {value!r} is not an ISO 8601 date"
        return self.params.get("error") or "not a valid email address"  # BAD_EMAIL


@dataclass(frozen=True)
class ImportOptions:
    mode: str = CONFIRMED
    consent: str | None = None  # the consent's origin, as the editor names it

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        consent = " ".join((self.consent or "").split())[:MAX_CONSENT_CHARS] or None
        object.__setattr__(self, "consent", consent)

    def status_of(self, row: Row) -> str:
        """An active row asked to confirm by mail waits for it; other statuses are the file's."""
        if self.mode == CONFIRM_BY_MAIL and row.status == Status.ACTIVE:
            return Status.PENDING.value
        return row.status


@dataclass(frozen=True)
class Added:
    """A reader this import added: who, in which language, with which status (for `on_added`)."""

    id: int
    lang: str
    status: str


@dataclass
class ImportReport:
    added: int = 0
    existing: int = 0  # already on file, or earlier in this file: left unchanged
    suppressed: int = 0  # blocked: on the suppression list, or on file bounced or complained
    bad: int = 0

    @property
    def rows(self) -> int:
        return self.added + self.existing + self.suppressed + self.bad


def _header(fieldnames: Sequence[str] | None) -> list[str]:
    if not fieldnames:
        raise CsvError("the file is empty: expected a header row with email and lang", EMPTY)
    names = [(name or "").strip().lower() for name in fieldnames]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        found = cut(", ".join(names))
        raise CsvError(
            f"the header row has no {' or '.join(missing)} column (found: {found})",
            HEADER,
            missing=", ".join(missing),
            found=found,
        )
    return names


def _created_at(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)  # ValueError: not an ISO 8601 date
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_row(raw: dict, line: int) -> Row | BadRow:
    """One data row: the address normalized, the language and status checked. Pure."""
    email = unescape_cell((raw.get("email") or "").strip())  # an export's '=… imports back as =…
    if not email:
        return BadRow(line, BAD_EMAIL_EMPTY)
    if len(email) > MAX_EMAIL_CHARS:  # not worth checking, and not worth quoting whole
        return BadRow(
            line,
            BAD_EMAIL,
            {"value": cut(email), "error": f"{cut(email)!r} is too long to be an email address"},
        )
    try:
        email = normalize(email)
    except InvalidEmail as exc:
        return BadRow(line, BAD_EMAIL, {"value": email, "error": str(exc)})
    lang = (raw.get("lang") or "").strip().lower()
    if lang not in EDITIONS:
        return BadRow(line, BAD_LANG, {"value": cut(lang)})
    status = (raw.get("status") or "").strip().lower() or Status.ACTIVE.value
    if status not in STATUSES:
        return BadRow(line, BAD_STATUS, {"value": cut(status)})
    created = (raw.get("created_at") or "").strip()
    try:
        created_at = _created_at(created) if created else None
    except ValueError:
        return BadRow(line, BAD_CREATED_AT, {"value": cut(created)})
    return Row(line, email, lang, status, created_at)


def read_rows(text: IO[str]) -> Iterator[Row | BadRow]:
    """Rows of a CSV text stream, one at a time, each with the file line it starts on; no line is read
    whole past csv_source's limits, so memory does not grow with the file or its lines.

    The header is checked here and now (CsvError), before a single row is read.
    """
    lines = Lines(text)
    reader = csv.DictReader(lines)
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise _unreadable(lines, exc) from exc
    reader.fieldnames = _header(fieldnames)
    lines.record_done()
    return _rows(reader, lines)


def _unreadable(lines: Lines, exc: csv.Error) -> CsvError:
    return CsvError(
        f"line {lines.number}: unreadable CSV ({exc})",
        UNREADABLE,
        line=lines.number,
        error=str(exc),
    )


def _rows(reader: csv.DictReader, lines: Lines) -> Iterator[Row | BadRow]:
    try:
        for raw in reader:
            lines.record_done()
            # line_num is where the row ends; a quoted field may have spanned lines
            spanned = sum(v.count("\n") for v in raw.values() if isinstance(v, str))
            yield parse_row(raw, reader.line_num - spanned)
    except csv.Error as exc:  # e.g. an unterminated quote: nothing after it can be read reliably
        # whether rows before it were imported is the caller's to say: it knows what it committed
        raise _unreadable(lines, exc) from exc


def _values(row: Row, now: datetime, options: ImportOptions) -> dict:
    # never later than now: a date to come (or a naive Korean time read as UTC, nine hours ahead) would
    # make the row look made after every link it is sent, and those links would be refused until then
    when = min(row.created_at, now) if row.created_at else now
    status = options.status_of(row)
    return {
        "email": row.email,
        "lang": row.lang,
        "status": status,
        "consent_source": SOURCE,
        "consent_detail": options.consent,
        "consent_at": None if status == Status.PENDING else when,  # not consented yet
        "consent_ip": None,
        "confirmed_at": when if status == Status.ACTIVE else None,
        "unsubscribed_at": now if status == Status.UNSUBSCRIBED else None,
        "created_at": when,
        "updated_at": now,
    }


def _insert_new(session: Session):
    """INSERT that skips an address someone else added meanwhile (a web sign-up racing the import),
    returning the rows it did add."""
    return (
        upsert_insert(session, Subscriber.__table__)
        .on_conflict_do_nothing(index_elements=["email"])
        .returning(Subscriber.id, Subscriber.lang, Subscriber.status)
    )


def _history(session: Session, added: list[Added], now: datetime) -> None:
    """One history row per reader added: the consent record, and what growth counts as an import."""
    if added:
        session.execute(
            insert(Change),
            [
                {
                    "subscriber_id": a.id,
                    "at": now,
                    "action": "added",
                    "source": SOURCE,
                    "ip": None,
                    "detail": changes.added(a.status, a.lang),
                }
                for a in added
            ],
        )


def _flush(
    session: Session,
    chunk: dict[str, Row],
    now: datetime,
    report: ImportReport,
    options: ImportOptions,
    on_added: Callable[[Session, list[Added]], None],
) -> None:
    on_file = dict(
        session.execute(
            select(Subscriber.email, Subscriber.status).where(Subscriber.email.in_(list(chunk)))
        ).all()
    )
    blocked = sum(1 for status in on_file.values() if status in SUPPRESSED)
    fresh = {
        suppression.address_hash(email): row for email, row in chunk.items() if email not in on_file
    }
    listed = suppression.suppressed_among(session, fresh)
    rows = [_values(row, now, options) for digest, row in fresh.items() if digest not in listed]
    added: list[Added] = []
    if rows:
        added = [Added(*r) for r in session.execute(_insert_new(session), rows).all()]
        _history(session, added, now)
        on_added(session, added)
    report.added += len(added)
    report.existing += len(on_file) - blocked + len(rows) - len(added)
    report.suppressed += len(listed) + blocked
    session.commit()
    chunk.clear()


def import_rows(
    session: Session,
    rows: Iterable[Row | BadRow],
    *,
    now: datetime,
    options: ImportOptions | None = None,
    chunk_rows: int = CHUNK_ROWS,
    on_bad_row: Callable[[BadRow], None] = lambda bad: None,
    on_added: Callable[[Session, list[Added]], None] = lambda session, added: None,
    on_chunk: Callable[[ImportReport], None] = lambda report: None,
) -> ImportReport:
    """Insert the new addresses, committing every `chunk_rows`; `on_added` runs in each chunk's
    transaction with the readers it added, `on_chunk` after its commit. Running it again adds nothing."""
    options = options or ImportOptions()
    report = ImportReport()
    chunk: dict[str, Row] = {}
    for row in rows:
        if isinstance(row, BadRow):
            report.bad += 1
            on_bad_row(row)
        elif (
            row.email in chunk
        ):  # repeated within the chunk; a repeat in a later chunk is found on file
            report.existing += 1
        else:
            chunk[row.email] = row
            if len(chunk) >= chunk_rows:
                _flush(session, chunk, now, report, options, on_added)
                on_chunk(report)
    if chunk:
        _flush(session, chunk, now, report, options, on_added)
    on_chunk(report)
    return report
