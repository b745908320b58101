"""Reading what an issue's send figures (delivery.figures) are made of: the snapshot from the database,
and, for a stalled send only, the signals that tell why.

The snapshot reads the issue's batches (one row per 1,000 recipients, indexed by issue) and its
editions: the accepted batches of the last minute give the rate, the newest one the last progress.
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.delivery import counters
from mailer.delivery.figures import RATE_WINDOW_SECONDS, Signals, Snapshot
from mailer.delivery.models import Batch, BatchStatus
from mailer.delivery.ratelimit import limiter
from mailer.delivery.states import BATCH_OPEN
from mailer.delivery.stats import progress
from mailer.issues.models import Edition, Issue
from mailer.issues.states import IssueStatus
from mailer.kv import Store, Unavailable


def due_editions(session: Session, issue: Issue, now: datetime) -> tuple[str, ...]:
    """Editions whose send time has come and that beat has not started yet (languages only: the rows
    carry their rendered HTML, not worth reading on every poll)."""
    return tuple(
        session.scalars(
            select(Edition.lang).where(
                Edition.issue_id == issue.id,
                Edition.started_at.is_(None),
                Edition.send_at <= now,
            )
        )
    )


def snapshot(session: Session, issue: Issue, now: datetime) -> Snapshot:
    p = progress(session, issue)
    if issue.status not in (IssueStatus.SENDING, IssueStatus.PAUSED):
        return Snapshot(progress=p, now=now, status_reason=issue.status_reason)
    window_start = now - timedelta(seconds=RATE_WINDOW_SECONDS)
    accepted = [
        (at, n)
        for at, n in session.execute(
            select(Batch.sent_at, Batch.size).where(
                Batch.issue_id == issue.id,
                Batch.status == BatchStatus.ACCEPTED,
                Batch.sent_at >= window_start,
            )
        )
        if at is not None
    ]
    last = max((at for at, _ in accepted), default=None)
    if last is None:
        last = session.scalar(
            select(func.max(Batch.sent_at)).where(
                Batch.issue_id == issue.id, Batch.status == BatchStatus.ACCEPTED
            )
        )
    # The send last (re)started at its move to `sending` (a resume: a pause is no stall, and the time
    # before it no part of the rate) or at the start of what is running now (running_since).
    started = running_since(session, issue.id)
    since = max((t for t in (started, issue.updated_at) if t is not None), default=None)
    return Snapshot(
        progress=p,
        now=now,
        status_reason=issue.status_reason,
        since=since,
        accepted=accepted,
        last_accepted=last,
        due=due_editions(session, issue, now),
    )


def running_since(session: Session, issue_id: int) -> datetime | None:
    """When the editions still in flight (a ledger being written, or a batch open) started: the earliest
    of them, so that editions started seconds apart, as one send starts them, count as one send (from
    the newest one's start, a send read "starting" ten seconds in). With none in flight, the newest
    start: an edition sent long ago adds no quiet time to one started later."""
    started = Edition.started_at.is_not(None), Edition.issue_id == issue_id
    open_batch = (
        select(Batch.id)
        .where(Batch.edition_id == Edition.id, Batch.status.in_(BATCH_OPEN))
        .exists()
    )
    in_flight = session.scalar(
        select(func.min(Edition.started_at)).where(
            *started, or_(Edition.ledger_done_at.is_(None), open_batch)
        )
    )
    return in_flight or session.scalar(select(func.max(Edition.started_at)).where(*started))


def batch_signals(session: Session, issue: Issue) -> dict[str, int]:
    """The issue's batches waiting for a task, and those among them retrying after a provider error."""
    rows = session.execute(
        select(Batch.status, Batch.last_error.is_not(None), func.count())
        .where(
            Batch.issue_id == issue.id,
            Batch.status.in_([BatchStatus.PENDING, BatchStatus.RETRYING]),
        )
        .group_by(Batch.status, Batch.last_error.is_not(None))
    ).all()
    return {
        "queued_work": sum(n for _, _, n in rows),
        "retrying_with_error": sum(
            n for status, erred, n in rows if status == BatchStatus.RETRYING and erred
        ),
    }


def store_signals(settings: Settings, store: Store | None, stall_seconds: float) -> dict:
    """What the key-value store says: a recent database error in a worker, the rate limit holding."""
    if store is None:
        return {}
    now = time.time()
    wait = 0.0
    with contextlib.suppress(Unavailable):
        wait = limiter(settings, store).holding(now)
    return {
        "database_errors": counters.db_error_within(store, now, stall_seconds),
        "rate_limit_wait": wait,
    }


def workers_on_send(workers: list[dict] | dict | None) -> int | None:
    """How many of the workers that answered consume `send`; None when they were not asked."""
    if not isinstance(workers, list):
        return None
    return sum(1 for w in workers if "send" in w.get("queues", ()))


def signals(
    session: Session,
    issue: Issue,
    settings: Settings,
    store: Store | None,
    broker: dict,
    depths: dict | None,
    workers: list[dict] | dict | None = None,
) -> Signals:
    """Everything stall_reason weighs, for one stalled issue."""
    depths = depths if depths is not None and "error" not in depths else {}
    kv = store_signals(settings, store, settings.stall_seconds)
    batches = batch_signals(session, issue)
    return Signals(
        broker=broker.get("status", "none"),
        send_depth=depths.get("send"),
        unacked=depths.get("unacked"),
        workers_on_send=workers_on_send(workers),
        database_errors=bool(kv.get("database_errors")),
        rate_limit_wait=float(kv.get("rate_limit_wait", 0.0)),
        retrying_with_error=batches["retrying_with_error"],
        queued_work=batches["queued_work"],
    )
