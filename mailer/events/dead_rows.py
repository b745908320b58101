"""PostgreSQL: an issue's events partition vacuumed once the events task has left many dead rows in it.

The webhook stores each event unapplied; the events task marks it applied (processed_at, apply.py), an
UPDATE that writes the whole row again (~450 bytes with its JSON, and an entry in each index: processed_at
is indexed, so it is never an update in place) and leaves the old one dead. An issue's events arrive over
days; until a VACUUM passes, the dead rows' room is not used again, and the partition grows to twice its
rows. Autovacuum does this where it is on (by default once a fifth of a table is dead); the events task
does not count on it: after applying, it vacuums each events partition whose dead rows have reached
DEAD_SHARE of its live ones (at least DEAD_LEAST), so that the issue's next events fill that room.

A plain VACUUM: the webhook's inserts and the marking go on meanwhile; behind another VACUUM of the
partition (autovacuum's) it does nothing (SKIP_LOCKED). SQLite reuses its free pages itself."""

from __future__ import annotations

import logging

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from mailer import partitions
from mailer.runtime import Runtime

log = logging.getLogger(__name__)
DEAD_SHARE = 0.1
DEAD_LEAST = 10_000


def vacuum_dead(rt: Runtime) -> list[str]:
    """VACUUM each partition of the events with dead rows enough; returns the partitions vacuumed."""
    with rt.session() as session:
        engine = session.get_bind()
        if not partitions.is_postgres(session.connection()):
            return []
        # the statistics' counts of live and dead rows (a backend reports its own within a second)
        due = session.scalars(
            text(
                "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_inherits i ON i.inhrelid = s.relid"
                " WHERE i.inhparent = CAST(:table AS regclass)"
                " AND s.n_dead_tup >= greatest(:least, :share * s.n_live_tup) ORDER BY s.relname"
            ),
            {"table": partitions.EVENTS, "least": DEAD_LEAST, "share": DEAD_SHARE},
        ).all()
    assert isinstance(engine, Engine)  # VACUUM runs outside a transaction: a connection of its own
    done = []
    for name in due:
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f"VACUUM (SKIP_LOCKED) {name}"))
        except DBAPIError as exc:  # the partition dropped meanwhile
            log.warning("events partition %s not vacuumed: %s", name, exc.orig)
            continue
        done.append(name)
    return done
