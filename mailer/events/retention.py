"""Retention: raw webhook events and ledger rows go once they are old, the figures they made stay.

Before any raw row of an issue goes, its counts and aggregates (stats.refresh_counts with
rollup.rollup_issue) are counted one last time and made final; the subscriber's engagement facts are kept
on the subscriber as events are applied (apply.py). What goes, in chunks of a short transaction each:

- webhook events applied more than event_retention_days ago;
- the ledger rows of issues finished more than ledger_retention_days ago.

On PostgreSQL an issue's partition whose rows are all due goes whole first (partition_drop), and the
ledger and events partitions of an issue done with for ledger_compact_days are rewritten without their
free room, once (compact).

Neither for an issue in flight or with a batch not settled: its counts move, and reconciling a batch
reads its ledger and its events. Events not applied yet are never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.db import utcnow
from mailer.delivery.models import Batch, BatchStatus, Delivery
from mailer.events import compact as compaction
from mailer.events import partition_drop
from mailer.events.models import IssueCounts, WebhookEvent
from mailer.events.stats import refresh_counts
from mailer.issues.models import Issue
from mailer.issues.states import TERMINAL
from mailer.partitions import EVENTS, LEDGER
from mailer.runtime import Runtime

UNSETTLED = (BatchStatus.PENDING, BatchStatus.SENDING, BatchStatus.RETRYING, BatchStatus.UNKNOWN)
Progress = Callable[[str, int], None]  # (table, rows just deleted)


def _settled_issues(finished_before: datetime | None = None):
    """Ids of the issues done with: finished (before `finished_before`) and no batch left to settle."""
    query = select(Issue.id).where(
        Issue.status.in_([str(s) for s in TERMINAL]),
        Issue.finished_at.is_not(None),
        ~exists().where(Batch.issue_id == Issue.id, Batch.status.in_(UNSETTLED)),
    )
    if finished_before is not None:
        query = query.where(Issue.finished_at < finished_before)
    return query


def _held_issues():
    """Ids of the issues whose rows stay whatever their age: in flight, or with a batch unsettled."""
    return select(Issue.id).where(Issue.id.not_in(_settled_issues()))


def _final_issues():
    return select(IssueCounts.issue_id).where(IssueCounts.final_at.is_not(None))


def events_kept(final_only: bool = True):
    """Ids of the issues whose events stay whatever their age (`final_only` as for events_due)."""
    kept = _held_issues()
    if final_only:
        kept = kept.union(select(Issue.id).where(Issue.id.not_in(_final_issues())))
    return kept


def events_cutoff(now: datetime, settings: Settings) -> datetime:
    return now - timedelta(days=settings.event_retention_days)


def events_due(now: datetime, settings: Settings, final_only: bool = True) -> tuple:
    """The webhook events old enough to go. `final_only`: only of issues whose counts are final (or of
    no issue we hold), so that an issue settling between a prune's plan and its deletes keeps its rows."""
    return (
        WebhookEvent.processed_at < events_cutoff(now, settings),
        or_(WebhookEvent.issue_id.is_(None), WebhookEvent.issue_id.not_in(events_kept(final_only))),
    )


def ledger_due(
    now: datetime, settings: Settings, final_only: bool = True, issue_id=Delivery.issue_id
) -> tuple:
    """The ledger rows old enough to go (`final_only` as for events_due): as conditions on `issue_id`,
    the ledger's column or another that names an issue."""
    cutoff = now - timedelta(days=settings.ledger_retention_days)
    due = issue_id.in_(_settled_issues(cutoff))
    return (due, issue_id.in_(_final_issues())) if final_only else (due,)


@dataclass
class Plan:
    """What a prune removes (or removed): rows per table, and the issues whose counts it makes final."""

    events: int = 0
    deliveries: int = 0
    finalized: list[int] = field(default_factory=list)
    # PostgreSQL: the issues whose partitions go whole, {table: [issue ids]} (their rows are counted above)
    partitions: dict[str, list[int]] = field(default_factory=dict)
    # {table: {issue id: rows}} as planned: a partition that goes whole is not read to be counted
    by_issue: dict[str, dict] = field(default_factory=dict, compare=False, repr=False)
    # PostgreSQL: the issues whose ledger and events partitions are rewritten full (compact)
    compacted: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.events + self.deliveries

    def lines(self, done: bool) -> list[str]:
        verb = "deleted" if done else "would be deleted"
        made = "made final" if done else "would be made final"
        lines = [
            f"webhook_events: {self.events} rows {verb}",
            f"deliveries: {self.deliveries} rows {verb}",
            f"issue_counts: {len(self.finalized)} issues' counts {made}",
        ]
        dropped = "dropped" if done else "would be dropped"
        for table, issues in self.partitions.items():
            lines.append(f"{table}: {len(issues)} issue partitions {dropped} whole")
        if self.compacted:
            compacted = "compacted" if done else "would be compacted"
            lines.append(
                f"{LEDGER}, {EVENTS}: partitions of {len(self.compacted)} issues {compacted}"
            )
        return lines


def plan(session: Session, now: datetime, settings: Settings) -> Plan:
    """Count what a prune would remove now; nothing changes."""
    events = events_due(now, settings, final_only=False)
    ledger = ledger_due(now, settings, final_only=False)
    touched = (
        select(WebhookEvent.issue_id)
        .where(*events)
        .distinct()
        .union(select(Issue.id).where(Issue.id.in_(select(Delivery.issue_id).where(*ledger))))
    )
    finalized = session.scalars(
        select(Issue.id)
        .outerjoin(IssueCounts, IssueCounts.issue_id == Issue.id)
        .where(Issue.id.in_(touched), IssueCounts.final_at.is_(None))
        .order_by(Issue.id)
    ).all()
    by_issue: dict[str, dict] = {
        EVENTS: dict(
            session.execute(
                select(WebhookEvent.issue_id, func.count())
                .where(*events)
                .group_by(WebhookEvent.issue_id)
            ).all()
        ),
        LEDGER: dict(
            session.execute(
                select(Delivery.issue_id, func.count()).where(*ledger).group_by(Delivery.issue_id)
            ).all()
        ),
    }
    dropped = {
        table: issues
        for table, issues in _droppable(session, now, settings, final_only=False).items()
        if issues
    }
    return Plan(
        events=sum(by_issue[EVENTS].values()),
        deliveries=sum(by_issue[LEDGER].values()),
        finalized=list(finalized),
        by_issue=by_issue,
        partitions=dropped,
        compacted=[
            i for i in _compact_due(session, now, settings) if i not in dropped.get(LEDGER, [])
        ],
    )


def _compact_due(session: Session, now: datetime, settings: Settings) -> list[int]:
    return compaction.compact_due(session, _settled_issues, now, settings.ledger_compact_days)


def _ledger_issues(now: datetime, settings: Settings, final_only: bool = True):
    """The issues whose ledger goes, as a select of Issue.id."""
    return select(Issue.id).where(*ledger_due(now, settings, final_only, issue_id=Issue.id))


def _droppable(
    session: Session, now: datetime, settings: Settings, final_only: bool = True
) -> dict[str, list[int]]:
    return {
        EVENTS: partition_drop.events_droppable(
            session, events_kept(final_only), events_cutoff(now, settings)
        ),
        LEDGER: partition_drop.ledger_droppable(session, _ledger_issues(now, settings, final_only)),
    }


def _drop_partitions(
    rt: Runtime, now: datetime, planned: Plan, progress: Progress | None
) -> tuple[dict[str, int], dict[str, list[int]]]:
    """PostgreSQL: the partitions whose rows are all due go whole (see partition_drop)."""
    with rt.session() as session:
        droppable = _droppable(session, now, rt.settings)
    ledger = _ledger_issues(now, rt.settings)
    kept, cutoff = events_kept(), events_cutoff(now, rt.settings)

    def events_still_due(session: Session, issue_id: int) -> bool:
        held = session.scalar(select(Issue.id).where(Issue.id == issue_id, Issue.id.in_(kept)))
        return held is None and partition_drop.all_before(session, issue_id, cutoff)

    def events_not_due(session: Session, issue_id: int) -> int:
        return partition_drop.move_not_due(session, issue_id, cutoff)

    checks = {EVENTS: events_still_due, LEDGER: partition_drop.issue_in(ledger)}
    moves = {EVENTS: events_not_due, LEDGER: None}
    rows, dropped = {}, {}
    for table, issue_ids in droppable.items():
        rows[table], dropped[table] = partition_drop.drop(
            rt,
            table,
            issue_ids,
            planned.by_issue.get(table, {}),
            checks[table],
            progress,
            move_out=moves[table],
        )
    return rows, dropped


def finalize(session: Session, issue_id: int, now: datetime) -> None:
    """Count the issue one last time from its raw rows, and mark its counts final."""
    refresh_counts(session, issue_id, now)
    session.execute(
        update(IssueCounts).where(IssueCounts.issue_id == issue_id).values(final_at=now)
    )


def _delete_range(
    rt: Runtime, model, due: tuple, low: int, high: int, chunk: int, progress: Progress | None
) -> int:
    """Delete the rows that are `due` with ids from `low` to `high`, a range of `chunk` ids a
    transaction. Rows of a kind were written in bulk and in time order, so the due ones run nearly
    unbroken; a range of the primary key costs the same at the end of a million rows as at the start,
    where a LIMIT over the rows not deleted yet would read again the dead ones before them."""
    total = 0
    for start in range(low, high + 1, chunk):
        with rt.session() as session:
            gone = (
                session.connection()
                .execute(delete(model).where(*due, model.id.between(start, start + chunk - 1)))
                .rowcount
            )
        total += gone
        if progress and gone:
            progress(model.__tablename__, gone)
    return total


def _delete_events(rt: Runtime, due: tuple, chunk: int, progress: Progress | None) -> int:
    with rt.session() as session:
        low, high = session.execute(
            select(func.min(WebhookEvent.id), func.max(WebhookEvent.id)).where(*due)
        ).one()
    return 0 if low is None else _delete_range(rt, WebhookEvent, due, low, high, chunk, progress)


def _delete_ledger(rt: Runtime, due: tuple, chunk: int, progress: Progress | None) -> int:
    """Issue by issue: an issue's ledger ids run nearly unbroken, other issues' may interleave."""
    with rt.session() as session:
        ranges = session.execute(
            select(Delivery.issue_id, func.min(Delivery.id), func.max(Delivery.id))
            .where(*due)
            .group_by(Delivery.issue_id)
            .order_by(Delivery.issue_id)
        ).all()
    return sum(
        _delete_range(
            rt, Delivery, (*due, Delivery.issue_id == issue_id), low, high, chunk, progress
        )
        for issue_id, low, high in ranges
    )


def run_prune(
    rt: Runtime,
    now: datetime | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Plan:
    """Beat, daily, and `mailer db prune`: what went (or, dry, what would go)."""
    now = now or utcnow()
    with rt.session() as session:
        planned = plan(session, now, rt.settings)
    if dry_run:
        return planned
    for issue_id in planned.finalized:  # each in its own transaction, before any of its rows go
        with rt.session() as session:
            finalize(session, issue_id, now)
    chunk = rt.settings.prune_chunk_rows
    rows, dropped = _drop_partitions(rt, now, planned, progress)
    return Plan(
        events=rows.get(EVENTS, 0)
        + _delete_events(rt, events_due(now, rt.settings), chunk, progress),
        deliveries=rows.get(LEDGER, 0)
        + _delete_ledger(rt, ledger_due(now, rt.settings), chunk, progress),
        finalized=planned.finalized,
        partitions={table: issues for table, issues in dropped.items() if issues},
        compacted=_compact(rt, now),
    )


def _compact(rt: Runtime, now: datetime) -> list[int]:
    """After the drops and deletes: the partitions that remain, and are due, are rewritten full."""
    with rt.session() as session:
        due = _compact_due(session, now, rt.settings)
    return compaction.compact(rt, due) if due else []
