"""PostgreSQL: the tables the events task writes rows again in, vacuumed once it has left many dead
rows in them.

The webhook stores each event unapplied; the events task marks it applied (processed_at, apply.py), an
UPDATE that writes the whole row again (~450 bytes with its JSON, and an entry in each index: processed_at
is indexed, so it is never an update in place) and leaves the old one dead; applying it also moves the
reader's engagement facts (subscribers.last_delivered_at, ...), another row written again. An issue's
events arrive over days; until a VACUUM passes, the dead rows' room is not used again: an events
partition grows to twice its rows, the subscribers table by its size again at each issue. Autovacuum
does this where it is on (by default once a fifth of a table is dead); the events task does not count
on it: after applying, it vacuums each events partition, and the subscribers table, whose dead rows have
reached DEAD_SHARE of its live ones (at least DEAD_LEAST), so that the next rows fill that room.

A plain VACUUM: the webhook's inserts, the marking and every read go on meanwhile; behind another
VACUUM of the table (autovacuum's) it does nothing (SKIP_LOCKED). SQLite reuses its free pages itself."""

from __future__ import annotations

import logging

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from mailer import partitions
from mailer.runtime import Runtime
from subscribers.models import Subscriber

log = logging.getLogger(__name__)
DEAD_SHARE = 0.1
DEAD_LEAST = 10_000


def vacuum_dead(rt: Runtime) -> list[str]:
    """VACUUM each events partition, and the subscribers table, with dead rows enough; returns the
    tables vacuumed."""
    with rt.session() as session:
        engine = session.get_bind()
        if not partitions.is_postgres(session.connection()):
            return []
        # the statistics' counts of live and dead rows (a backend reports its own within a second)
        due = session.scalars(
            text(
                "SELECT s.relname FROM pg_stat_user_tables s"
                " WHERE (s.relid = CAST(:subscribers AS regclass) OR s.relid IN"
                " (SELECT inhrelid FROM pg_inherits WHERE inhparent = CAST(:table AS regclass)))"
                " AND s.n_dead_tup >= greatest(:least, :share * s.n_live_tup) ORDER BY s.relname"
            ),
            {
                "table": partitions.EVENTS,
                "subscribers": Subscriber.__tablename__,
                "least": DEAD_LEAST,
                "share": DEAD_SHARE,
            },
        ).all()
    assert isinstance(engine, Engine)  # VACUUM runs outside a transaction: a connection of its own
    done = []
    for name in due:
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f"VACUUM (SKIP_LOCKED) {name}"))
        except DBAPIError as exc:  # a partition dropped meanwhile
            log.warning("%s not vacuumed: %s", name, exc.orig)
            continue
        done.append(name)
    return done
