"""CSV export, streamed: rows are read from the database in pages and written as they come."""

from __future__ import annotations

import csv
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from subscribers.models import Subscriber

# The first four are what `import` reads, so an export imports back as it was.
COLUMNS = ("email", "lang", "status", "created_at", "confirmed_at", "unsubscribed_at", "consent_source")
PAGE_ROWS = 1000


def write_csv(session: Session, out: TextIO, *, status: str | None = None) -> int:
    """Write every subscriber (or those with one status) as CSV; returns how many."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    query = select(*(getattr(Subscriber, c) for c in COLUMNS)).order_by(Subscriber.id)
    if status:
        query = query.where(Subscriber.status == status)
    count = 0
    # yield_per: a server-side cursor on PostgreSQL, so 100k subscribers are never all in memory
    for row in session.execute(query.execution_options(yield_per=PAGE_ROWS)):
        writer.writerow([v.isoformat() if hasattr(v, "isoformat") else v for v in row])
        count += 1
    return count
