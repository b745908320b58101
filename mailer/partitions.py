"""PostgreSQL partitions of the ledger and of the stored webhook events: one per issue, LIST on issue_id.

Both tables are written and read issue by issue (a send writes its issue's ledger, the webhook's events
carry the issue in our custom_args, reports and reconciling read one issue), and retention selects
whole issues: once an issue is done with, its partitions go with a DROP instead of millions of DELETEs,
leaving nothing for VACUUM. A partition per month would not fit: the events' dedupe key (sg_event_id)
must include the partition key to stay unique across partitions, and a retried post arrives in another
month than the first; an event's issue id is the same in every retry.

- `<table>_p<issue id>`: made when an issue starts sending (ensure), before a ledger row is written;
- `<table>_default`: rows of an issue without a partition (an issue since deleted, an event naming an
  issue we do not hold); ensure() moves them into the issue's partition when it is made;
- `webhook_events_none`: events of no issue (transactional mail, rejected events).

SQLite keeps plain tables: every function here is a no-op there."""

from __future__ import annotations

import logging
import re

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

LEDGER = "deliveries"
EVENTS = "webhook_events"
TABLES = (LEDGER, EVENTS)
# The ledger's rows are updated in place as events arrive (mailer.delivery.models.FILLFACTOR)
STORAGE = {LEDGER: " WITH (fillfactor = 50)", EVENTS: ""}
NO_ISSUE = EVENTS + "_none"
# Of one table's partitions, keyed by issue id: what a migration's comparison leaves out
PARTITION = re.compile(r"^(deliveries|webhook_events)_(p\d+|default|none)$")
_ISSUE_PARTITION = re.compile(r"^(deliveries|webhook_events)_p(\d+)$")
MAX_ISSUE = 2**31 - 1
# Dropping a partition takes its parent's strongest lock for a moment: waiting longer than this behind
# a long query would hold up every send and webhook post queued behind it, so the drop gives way
# (its rows are then deleted in chunks instead).
DROP_LOCK_TIMEOUT = "2s"
ATTACH_LOCK_TIMEOUT = "2s"
LOCK_NOT_AVAILABLE = "55P03"
# Making, attaching and dropping a partition needs the parent's owner (or a member of the owning role)
INSUFFICIENT_PRIVILEGE = "42501"
GIVE_WAY = (LOCK_NOT_AVAILABLE, INSUFFICIENT_PRIVILEGE)


def gives_way(error: DBAPIError) -> bool:
    """A partition change that failed for a busy table or a login without the owner's rights: the
    rows stay where they are (the default partition; chunked DELETEs at retention), nothing is lost."""
    return getattr(error.orig, "sqlstate", None) in GIVE_WAY


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def name(table: str, issue_id: int) -> str:
    if table not in TABLES or not 0 <= int(issue_id) <= MAX_ISSUE:
        raise ValueError(f"no partition of {table} for issue {issue_id}")
    return f"{table}_p{int(issue_id)}"


def is_partition(table_name: str | None) -> bool:
    return bool(table_name and PARTITION.match(table_name))


def comparison_filter(dialect: str):
    """Alembic's include_object when comparing the models with a database of `dialect`: partitions are
    not models, and a key made for one backend only (ddl_if) is not looked for on the other."""

    def include(obj, object_name, type_, reflected, compare_to) -> bool:
        if type_ == "table" and is_partition(object_name):
            return False
        wanted = getattr(obj, "_ddl_if", None)
        return reflected or wanted is None or wanted.dialect in (None, dialect)

    return include


def issue_partitions(conn: Connection, table: str) -> dict[int, str]:
    """The issue partitions `table` has now: {issue id: partition name}."""
    if not is_postgres(conn):
        return {}
    names = conn.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = CAST(:table AS regclass)"
        ),
        {"table": table},
    ).all()
    found = {}
    for partition in names:
        matched = _ISSUE_PARTITION.match(partition)
        if matched:
            found[int(matched.group(2))] = partition
    return found


def ensure(conn: Connection, issue_id: int) -> list[str]:
    """Make the issue's partitions that are missing, in the caller's transaction; returns those made.

    Made apart and attached (not CREATE ... PARTITION OF): rows of the issue that reached the default
    partition first are moved in, where PARTITION OF would fail on them; ATTACH holds the parent only
    in SHARE UPDATE EXCLUSIVE mode, so sends and webhook posts of other issues go on meanwhile."""
    if not is_postgres(conn):
        return []
    made = []
    # the events first, then the ledger: the order in which applying events locks them
    for table in (EVENTS, LEDGER):
        try:
            with conn.begin_nested():
                if _make(conn, table, issue_id):
                    made.append(name(table, issue_id))
        except DBAPIError as error:
            if not gives_way(error):
                raise
            # A long read holds the default partition, or the login may not change the table: the
            # issue's rows go there for now and the next ensure (the send's start) tries again.
            log.warning("partition %s not made: %s", name(table, issue_id), error.orig)
    return made


def _make(conn: Connection, table: str, issue_id: int) -> bool:
    partition = name(table, issue_id)
    # two starters of one issue (beat and an editor) make it once
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:table), :issue)"),
        {"table": partition, "issue": issue_id},
    )
    if conn.scalar(text("SELECT to_regclass(:name)"), {"name": partition}) is not None:
        return False
    # ATTACH takes the default partition's strongest lock: waiting behind a long read would queue every
    # send and webhook post behind it, so it gives way instead (reverted with the savepoint or below)
    previous = conn.scalar(text("SELECT current_setting('lock_timeout')"))
    conn.execute(text("SELECT set_config('lock_timeout', :t, true)"), {"t": ATTACH_LOCK_TIMEOUT})
    check = f"{partition}_key"
    conn.execute(
        text(
            f"CREATE TABLE {partition} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            f"{STORAGE[table]}"
        )
    )
    conn.execute(  # proves the partition's bound, so ATTACH need not scan it
        text(
            f"ALTER TABLE {partition} ADD CONSTRAINT {check}"
            f" CHECK (issue_id IS NOT NULL AND issue_id = {int(issue_id)})"
        )
    )
    conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {table}_default WHERE issue_id = :issue RETURNING *)"
            f" INSERT INTO {partition} SELECT * FROM moved"
        ),
        {"issue": issue_id},
    )
    conn.execute(
        text(f"ALTER TABLE {table} ATTACH PARTITION {partition} FOR VALUES IN ({int(issue_id)})")
    )
    conn.execute(text(f"ALTER TABLE {partition} DROP CONSTRAINT {check}"))
    conn.execute(text("SELECT set_config('lock_timeout', :t, true)"), {"t": previous})
    return True


def analyze(conn: Connection, table: str, issue_id: int) -> None:
    """Statistics for the issue's new partition, once it holds its first rows. Until autovacuum gets to
    it (a minute or more, longer than a send's first batches), the planner knows nothing of it, not even
    that issue_id is the same on every row: a batch's read, which names the issue so as to read its
    partition alone, then also scans the whole issue's index, and PostgreSQL spends half as much again
    on the send. ANALYZE samples a bounded number of rows, so it takes milliseconds at any size."""
    if is_postgres(conn):
        conn.execute(text(f"ANALYZE {name(table, issue_id)}"))


def detach(conn: Connection, table: str, issue_id: int) -> None:
    """Take the issue's partition out of `table`, in the caller's transaction (DROP it, or roll back to
    leave it in place). While the transaction lasts no row can reach the partition: the caller may check
    its rows knowing they are all there is."""
    conn.execute(text(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
    conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name(table, issue_id)}"))


def drop(conn: Connection, table: str, issue_id: int) -> None:
    conn.execute(text(f"DROP TABLE {name(table, issue_id)}"))
