"""PostgreSQL: an old issue's ledger partition rewritten without the room its rows were written with.

A ledger partition is made half full (partitions.STORAGE, fillfactor 50) so that a row's status changes
during the send and the days after it fit on the row's own page: an update in place. Once the issue is
done with (finished more than ledger_compact_days ago, no batch left to settle) its rows hardly change
any more, yet the half-empty pages stay for the rest of the ledger's retention: half the ledger on disk,
about 1.4 GB of a year at a million readers. Retention rewrites such a partition full once (fillfactor
100, VACUUM FULL); a late event's update then takes a row to another page, as in any full table.

VACUUM FULL holds the partition's strongest lock while it rewrites it (its indexes made again): reads of
that issue's ledger wait meanwhile. Behind a read of the partition it does not wait at all (SKIP_LOCKED):
the partition stays half full and the next prune tries again.
SQLite keeps plain tables and its own free pages: nothing happens there."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, Select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from mailer import partitions
from mailer.issues.models import Issue
from mailer.runtime import Runtime

log = logging.getLogger(__name__)
FULL, HALF = "fillfactor=100", "fillfactor=50"


def compact_due(
    session: Session, settled_before: Callable[[datetime], Select], now: datetime, days: int
) -> list[int]:
    """Issues whose ledger partition is still half full and whose issue is done with since `days`
    (`settled_before(cutoff)`: a select of the ids of issues finished before it, nothing to settle)."""
    conn = session.connection()
    if not partitions.is_postgres(conn):
        return []
    have = partitions.issue_partitions(conn, partitions.LEDGER)
    if not have:
        return []
    full = set(
        conn.scalars(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = CAST(:table AS regclass)"
                " AND CAST(:full AS text) = ANY(COALESCE(c.reloptions, '{}'))"
            ),
            {"table": partitions.LEDGER, "full": FULL},
        ).all()
    )
    half = sorted(i for i, name in have.items() if name not in full)
    if not half:
        return []
    due = settled_before(now - timedelta(days=days)).where(Issue.id.in_(half))
    return sorted(session.scalars(due).all())


def _set_fill(engine: Engine, name: str, fill: str) -> None:
    # in a transaction of its own, its lock wait bounded by SET LOCAL: no session state to leave
    # behind on a pooled (PgBouncer) connection
    with engine.begin() as conn:
        conn.execute(text(f"SET LOCAL lock_timeout = '{partitions.DROP_LOCK_TIMEOUT}'"))
        conn.execute(text(f"ALTER TABLE {name} SET ({fill})"))


def compact(rt: Runtime, issue_ids: list[int]) -> list[int]:
    """Rewrite each issue's ledger partition full; returns the issues whose partition was."""
    done = []
    with rt.session() as session:
        engine = session.get_bind()
    assert isinstance(engine, Engine)  # VACUUM runs outside a transaction: a connection of its own
    for issue_id in issue_ids:
        name = partitions.name(partitions.LEDGER, issue_id)
        try:
            _set_fill(engine, name, FULL)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                before = conn.scalar(text("SELECT pg_relation_filenode(:n)"), {"n": name})
                # SKIP_LOCKED: behind any read of the partition it does nothing instead of waiting
                conn.execute(text(f"VACUUM (FULL, ANALYZE, SKIP_LOCKED) {name}"))
                after = conn.scalar(text("SELECT pg_relation_filenode(:n)"), {"n": name})
        except OperationalError as exc:  # a lock not had in time
            log.warning("ledger partition of issue %s not compacted: %s", issue_id, exc.orig)
            continue
        if before == after:  # skipped: still half full, marked so for the next prune to find it
            log.warning("ledger partition of issue %s not compacted: it is being read", issue_id)
            _set_fill(engine, name, HALF)
            continue
        done.append(issue_id)
    return done
