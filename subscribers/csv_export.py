"""CSV export, streamed: rows are read from the database in pages and written as they come.

A cell a spreadsheet would read as a formula (an anonymous sign-up can be `=cmd|'/c calc'!A0@example.org`,
a valid address) is written with a leading `'`, which spreadsheets show as text; import takes it off."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from subscribers.models import Subscriber

# The first four are what `import` reads, so an export imports back as it was.
COLUMNS = (
    "email",
    "lang",
    "status",
    "created_at",
    "confirmed_at",
    "unsubscribed_at",
    "consent_source",
)
PAGE_ROWS = 1000
FORMULA_STARTS = (
    "=",
    "+",
    "-",
    "@",
    "\t",
    "\r",
)  # what makes Excel, LibreOffice or Sheets evaluate a cell


def safe_cell(value):
    """The value, with a `'` before a text a spreadsheet would run as a formula."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def unescape_cell(value: str) -> str:
    """What safe_cell wrote, as it was (for import)."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


def _pages(session: Session, status: str | None) -> Iterator[tuple[str, int]]:
    """(CSV text, rows in it): the header first, then a page of rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    yield buffer.getvalue(), 0
    query = select(*(getattr(Subscriber, c) for c in COLUMNS)).order_by(Subscriber.id)
    if status:
        query = query.where(Subscriber.status == status)
    # yield_per: a server-side cursor on PostgreSQL, so 100k subscribers are never all in memory
    for page in session.execute(query.execution_options(yield_per=PAGE_ROWS)).partitions():
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(
            [v.isoformat() if hasattr(v, "isoformat") else safe_cell(v) for v in row]
            for row in page
        )
        yield buffer.getvalue(), len(page)


def csv_lines(session: Session, *, status: str | None = None) -> Iterator[str]:
    """Every subscriber (or those with one status) as CSV text, streamed a page of rows at a time."""
    return (text for text, _ in _pages(session, status))


def write_csv(session: Session, out: TextIO, *, status: str | None = None) -> int:
    """Write every subscriber (or those with one status) as CSV; returns how many."""
    count = 0
    for text, rows in _pages(session, status):
        out.write(text)
        count += rows
    return count
