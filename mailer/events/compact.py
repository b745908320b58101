"""PostgreSQL: an old issue's partitions rewritten without the room their rows left behind.

- Its ledger partition is made half full (partitions.STORAGE, fillfactor 50) so that a row's status
  changes during the send and the days after it fit on the row's own page: an update in place.
- Its events partition holds more than its rows: the webhook stores each event unapplied, and the
  events task marks it applied (processed_at, mailer.events.apply), an UPDATE that writes the whole row
  again, ~450 bytes with its JSON, and an entry in each index (processed_at is indexed, so it is never
  an update in place). Vacuumed as the events arrive (dead_rows), the issue's next events reuse that
  room, but what the last ones left, and the indexes' second entries, stay (at 100,000 readers, an
  issue's events took 175 MiB where 143 hold them; 279 MiB without the vacuum).

Once the issue is done with (finished more than ledger_compact_days ago, no batch left to settle) its
rows hardly change any more, yet that room would stay for the rest of their retention: about 1.4 GB of
the ledger's year at a million readers, and 0.3 GB of each issue's events (1.2 GB without the vacuum).
Retention rewrites each such partition full once (fillfactor 100 set, which marks it done; VACUUM FULL,
its indexes made again); a late event's update then takes a row to another page, as in any full table.

VACUUM FULL holds the partition's strongest lock while it rewrites it: reads of that issue's ledger, the
events task's read of pending events and webhook posts of that issue's events wait meanwhile (1 s for
a 100,000-reader issue's events). Behind a read or write of the partition it does not wait at all
(SKIP_LOCKED): the partition stays as it was and the next prune tries again.
SQLite keeps plain tables and its own free pages: nothing happens there."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, Select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from mailer import partitions
from mailer.issues.models import Issue
from mailer.runtime import Runtime

log = logging.getLogger(__name__)
FULL = "fillfactor=100"
# a partition's options as it is made (partitions.STORAGE): put back when its compaction gave way
AS_MADE = {partitions.LEDGER: "SET (fillfactor=50)", partitions.EVENTS: "RESET (fillfactor)"}


def not_full(conn: Connection, table: str) -> dict[int, str]:
    """The issue partitions of `table` not rewritten full yet: {issue id: partition name}."""
    have = partitions.issue_partitions(conn, table)
    if not have:
        return {}
    full = set(
        conn.scalars(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = CAST(:table AS regclass)"
                " AND CAST(:full AS text) = ANY(COALESCE(c.reloptions, '{}'))"
            ),
            {"table": table, "full": FULL},
        ).all()
    )
    return {i: name for i, name in have.items() if name not in full}


def compact_due(
    session: Session, settled_before: Callable[[datetime], Select], now: datetime, days: int
) -> list[int]:
    """Issues with a partition (ledger or events) not rewritten full, done with since `days`
    (`settled_before(cutoff)`: a select of the ids of issues finished before it, nothing to settle)."""
    conn = session.connection()
    if not partitions.is_postgres(conn):
        return []
    waiting = sorted({i for table in AS_MADE for i in not_full(conn, table)})
    if not waiting:
        return []
    due = settled_before(now - timedelta(days=days)).where(Issue.id.in_(waiting))
    return sorted(session.scalars(due).all())


def _set(engine: Engine, name: str, options: str) -> None:
    # in a transaction of its own, its lock wait bounded by SET LOCAL: no session state to leave
    # behind on a pooled (PgBouncer) connection
    with engine.begin() as conn:
        conn.execute(text(f"SET LOCAL lock_timeout = '{partitions.DROP_LOCK_TIMEOUT}'"))
        conn.execute(text(f"ALTER TABLE {name} {options}"))


def _rewrite(engine: Engine, table: str, issue_id: int, name: str) -> bool:
    """Rewrite one partition full; False when it gave way (a lock not had)."""
    kind = "ledger" if table == partitions.LEDGER else "events"
    try:
        _set(engine, name, f"SET ({FULL})")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            before = conn.scalar(text("SELECT pg_relation_filenode(:n)"), {"n": name})
            # SKIP_LOCKED: behind any read of the partition it does nothing instead of waiting
            conn.execute(text(f"VACUUM (FULL, ANALYZE, SKIP_LOCKED) {name}"))
            after = conn.scalar(text("SELECT pg_relation_filenode(:n)"), {"n": name})
    except OperationalError as exc:  # a lock not had in time
        log.warning("%s partition of issue %s not compacted: %s", kind, issue_id, exc.orig)
        return False
    if before == after:  # skipped: marked as made again, for the next prune to find it
        log.warning("%s partition of issue %s not compacted: it is in use", kind, issue_id)
        _set(engine, name, AS_MADE[table])
        return False
    return True


def compact(rt: Runtime, issue_ids: list[int]) -> list[int]:
    """Rewrite each issue's partitions not full yet; returns the issues whose partitions all were."""
    done = []
    with rt.session() as session:
        engine = session.get_bind()
        waiting = {table: not_full(session.connection(), table) for table in AS_MADE}
    assert isinstance(engine, Engine)  # VACUUM runs outside a transaction: a connection of its own
    for issue_id in issue_ids:
        rewritten = [
            _rewrite(engine, table, issue_id, names[issue_id])
            for table, names in waiting.items()
            if issue_id in names
        ]
        if rewritten and all(rewritten):
            done.append(issue_id)
    return done
