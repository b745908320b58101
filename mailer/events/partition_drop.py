"""Retention on PostgreSQL, where the ledger and the events are partitioned by issue (mailer.partitions):
an issue whose rows are all due loses its partition whole, a DETACH and a DROP that take a moment
whatever its size and leave nothing for VACUUM. The rows that remain due (a partition holding rows
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


def all_before(session: Session, issue_id: int, cutoff: datetime) -> bool:
    """Every event in the issue's partition applied before `cutoff` (an empty one too)."""
    name = partitions.name(partitions.EVENTS, issue_id)
    query = text(
        f"SELECT 1 FROM {name} WHERE processed_at IS NULL OR processed_at >= :cutoff LIMIT 1"
    ).bindparams(bindparam("cutoff", type_=UTCDateTime))
    return session.execute(query, {"cutoff": cutoff}).first() is None


def events_droppable(session: Session, kept: Select, cutoff: datetime) -> list[int]:
    """Issues with an events partition, not `kept` (a select of the issue ids whose events stay), and
    whose every event is due."""
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
) -> tuple[int, list[int]]:
    """Drop each issue's partition of `table` that is still due once detached: (rows gone, issues).
    Its rows are as `planned` ({issue id: rows due}): all of them were due then, and a row that has
    come since is not due (the check sees it), so counting them again, a read of the whole partition,
    would tell nothing new."""
    total, dropped = 0, []
    for issue_id in issue_ids:
        try:
            with rt.session() as session:
                conn = session.connection()
                partitions.detach(conn, table, issue_id)
                if not still_due(session, issue_id):
                    session.rollback()
                    continue
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
