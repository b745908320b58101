"""Retention on PostgreSQL, where the ledger and the events are partitioned by issue (mailer.partitions):
an issue whose rows are all due (its events: but a few late ones, moved out first) loses its partition
whole, a DETACH and a DROP that take a moment whatever its size and leave nothing for VACUUM. The rows that remain due (a partition holding rows
not due yet, the default partition, events of no issue, a drop that could not have its lock in time)
are deleted in chunks as on SQLite.

Each drop is a transaction of its own: the partition is detached first, which holds its parent's
lock, so no row can reach it while it is checked once more; if anything changed since the plan (an
event arrived, the issue was sent again), the transaction rolls back and the partition stays."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Select, bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from mailer import partitions
from mailer.db import UTCDateTime
from mailer.issues.models import Issue
from mailer.runtime import Runtime

log = logging.getLogger(__name__)
StillDue = Callable[[Session, int], bool]


def ledger_droppable(session: Session, due: Select) -> list[int]:
    """Issues with a ledger partition among `due` (a select of Issue.id: the issues whose ledger goes)."""
    have = partitions.issue_partitions(session.connection(), partitions.LEDGER)
    if not have:
        return []
    return sorted(session.scalars(due.where(Issue.id.in_(sorted(have)))).all())


# Late events (an open weeks after the send) would keep an issue's partition as long as they come, its
# file as large as on the first day while its old rows are deleted in chunks: space no other issue's
# rows reuse. An issue whose events are all due but at most this many loses its partition all the same,
# those few rows moved to the default partition first (where later ones of the issue land too, and
# whose space the steady trickle of late events reuses); the move is done under the drop's lock.
MOVED_AT_MOST = 10_000
_NOT_DUE = "processed_at IS NULL OR processed_at >= :cutoff"


def not_due(session: Session, issue_id: int, cutoff: datetime, most: int) -> int:
    """Events in the issue's partition not applied before `cutoff`, counted up to `most` + 1."""
    name = partitions.name(partitions.EVENTS, issue_id)
    query = text(
        f"SELECT count(*) FROM (SELECT 1 FROM {name} WHERE {_NOT_DUE} LIMIT :most) AS late"
    ).bindparams(bindparam("cutoff", type_=UTCDateTime))
    return session.scalar(query, {"cutoff": cutoff, "most": most + 1}) or 0


def all_before(session: Session, issue_id: int, cutoff: datetime) -> bool:
    """Every event in the issue's partition applied before `cutoff` but at most MOVED_AT_MOST, which
    a drop moves out first (an empty partition too)."""
    return not_due(session, issue_id, cutoff, MOVED_AT_MOST) <= MOVED_AT_MOST


def move_not_due(session: Session, issue_id: int, cutoff: datetime) -> int:
    """The issue's events not due, out of its partition (detached: they reach the default one)."""
    name = partitions.name(partitions.EVENTS, issue_id)
    query = text(
        f"INSERT INTO {partitions.EVENTS} SELECT * FROM {name} WHERE {_NOT_DUE}"
    ).bindparams(bindparam("cutoff", type_=UTCDateTime))
    return session.connection().execute(query, {"cutoff": cutoff}).rowcount


def events_droppable(session: Session, kept: Select, cutoff: datetime) -> list[int]:
    """Issues with an events partition, not `kept` (a select of the issue ids whose events stay), and
    whose every event is due (but at most MOVED_AT_MOST)."""
    have = partitions.issue_partitions(session.connection(), partitions.EVENTS)
    if not have:
        return []
    held = set(session.scalars(kept).all())
    return [i for i in sorted(have) if i not in held and all_before(session, i, cutoff)]


def drop(
    rt: Runtime,
    table: str,
    issue_ids: list[int],
    planned: dict[int, int],
    still_due: StillDue,
    progress: Callable[[str, int], None] | None = None,
    move_out: Callable[[Session, int], int] | None = None,
) -> tuple[int, list[int]]:
    """Drop each issue's partition of `table` that is still due once detached: (rows gone, issues).
        Its rows are as `planned` ({issue id: rows due}): all of them were due then, and a row that has
        come since is not due (the check sees it), so counting them again, a read of the whole partition,
        would tell nothing new. `move_out(session, issue id)`: rows to move out of the partition before it
    goes, once it is detached."""
    total, dropped = 0, []
    for issue_id in issue_ids:
        try:
            with rt.session() as session:
                conn = session.connection()
                partitions.detach(conn, table, issue_id)
                if not still_due(session, issue_id):
                    session.rollback()
                    continue
                if move_out is not None:  # the rows not due, kept out of the partition
                    move_out(session, issue_id)
                partitions.drop(conn, table, issue_id)
        except DBAPIError as exc:  # lock not had in time, or no owner's rights: rows go in chunks
            if not partitions.gives_way(exc):
                raise
            log.warning("partition of %s for issue %s not dropped: %s", table, issue_id, exc.orig)
            continue
        rows = planned.get(issue_id, 0)
        total += rows
        dropped.append(issue_id)
        if progress and rows:
            progress(table, rows)
    return total, dropped


def issue_in(due: Select) -> StillDue:
    """still_due for an issue that must still be among `due` (a select of Issue.id)."""

    def check(session: Session, issue_id: int) -> bool:
        return session.scalar(due.where(Issue.id == issue_id)) is not None

    return check
