"""Per-issue stats by edition language, from the ledger (sent) and the webhook events (the rest).

Each figure counts deliveries, not events: a reader who opens twice is one open. Counting a large
issue takes seconds, so pages and scrapes read counts stored by beat (stored_counts).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.db import is_postgres, upsert_insert
from mailer.delivery.models import DELIVERY_RANK, DeliveryStatus
from mailer.delivery.stats import delivery_counts
from mailer.events.models import IssueCounts
from mailer.events.rollup import Tally, rollup_issue, tally_issue
from mailer.issues import reasons
from mailer.issues.models import Edition, Issue

# "opened" counts readers; a machine's open (mailer.events.store.kind) is counted apart, never as theirs
STATS = (
    "sent",
    "delivered",
    "bounced",
    "complained",
    "opened",
    "clicked",
    "unsubscribed",
    "machine_opened",
)
EVENT_STAT = {
    "delivered": "delivered",
    "bounce": "bounced",
    "blocked": "bounced",
    "dropped": "bounced",
    "spamreport": "complained",
    "open": "opened",
    "machine_open": "machine_opened",
    "click": "clicked",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
}
COUNT_MEMORY = "64MB"  # what refresh_counts lets each join and sort of its counts hold in memory
SENT = [s for s, rank in DELIVERY_RANK.items() if rank >= DELIVERY_RANK[DeliveryStatus.SENT]]


def issue_stats(
    session: Session,
    issue_id: int,
    deliveries: dict[str, dict[str, int]] | None = None,
    tally: Tally | None = None,
) -> dict[str, dict[str, int]]:
    """{edition lang: {stat: deliveries}}, every stat present (zeros included). `deliveries`: the issue's
    delivery_counts(), `tally`: its tally_issue(), when the caller has them already."""
    if deliveries is None:
        deliveries = delivery_counts(session, issue_id)
    if tally is None:
        tally = tally_issue(session, issue_id, list(EVENT_STAT))
    langs = session.scalars(select(Edition.lang).where(Edition.issue_id == issue_id)).all()
    stats = {lang: dict.fromkeys(STATS, 0) for lang in langs}
    for lang, by_status in deliveries.items():
        stats[lang]["sent"] = sum(n for status, n in by_status.items() if status in SENT)
    for lang, event, n in tally.stats:
        stats[lang][EVENT_STAT[event]] += (
            n  # bounce + blocked + dropped add up; a delivery has one of them
        )
    return stats


def refresh_counts(session: Session, issue_id: int, now: datetime) -> IssueCounts:
    """Count the issue's deliveries and stats now, and store them (an upsert: beat and a page may race),
    with the issue's aggregates. Counts made final by retention stay as they are: the raw rows they were
    counted from are gone."""
    stored = session.get(IssueCounts, issue_id, populate_existing=True)
    if stored is not None and stored.final_at is not None:
        return stored
    if is_postgres(session):
        # for this transaction only (a pooler in transaction mode keeps nothing past it): compiling the
        # count of a 1M-reader issue just in time took longer than running it, 4 MB of memory for its
        # joins and sorts sent a million rows through temporary files, and parallel workers, on a
        # machine busy with pages and sends, took longer than one process (9 s against 12-15 s at 1M)
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text(f"SET LOCAL work_mem = '{COUNT_MEMORY}'"))
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    deliveries = delivery_counts(session, issue_id)
    tally = tally_issue(session, issue_id, list(EVENT_STAT))
    values = {
        "issue_id": issue_id,
        "counted_at": now,
        "deliveries": deliveries,
        "stats": issue_stats(session, issue_id, deliveries, tally),
    }
    statement = upsert_insert(session, IssueCounts)
    session.execute(
        statement.values(values).on_conflict_do_update(
            index_elements=["issue_id"],
            set_={k: statement.excluded[k] for k in ("counted_at", "deliveries", "stats")},
            # made final meanwhile (retention counting it a last time): those counts win, whatever
            # this count saw of rows being deleted
            where=IssueCounts.final_at.is_(None),
        )
    )
    counts = session.get_one(IssueCounts, issue_id, populate_existing=True)
    if counts.final_at is None:
        rollup_issue(session, issue_id, tally)
    return counts


def _settled_before(now: datetime, settings: Settings) -> datetime:
    """Issues finished before this are settled: their counts barely move (a late open), beat counts them no more."""
    return now - timedelta(days=settings.stats_refresh_days)


def stored_counts(session: Session, issue: Issue, now: datetime, settings: Settings) -> IssueCounts:
    """The issue's stored counts while they are fresh (beat's refresh keeps them so); counted now otherwise,
    as without beat (tasks in-process), the first time, or the first time after the issue started or
    finished (a `sent` issue never shows the counts of its draft or of its sending)."""
    counts = session.get(IssueCounts, issue.id)
    if counts is not None and counts.final_at is not None:
        return counts
    if counts is None or any(
        counts.counted_at < moment for moment in (issue.started_at, issue.finished_at) if moment
    ):
        return refresh_counts(session, issue.id, now)
    fresh = counts.counted_at >= now - timedelta(seconds=2 * settings.stats_refresh_seconds)
    settled = issue.finished_at is not None and issue.finished_at < _settled_before(now, settings)
    return counts if fresh or settled else refresh_counts(session, issue.id, now)


def refresh_active(session: Session, now: datetime, settings: Settings) -> int:
    """Beat: count again every issue started and not settled. Returns how many; commits each."""
    ids = session.scalars(
        select(Issue.id)
        .outerjoin(IssueCounts, IssueCounts.issue_id == Issue.id)
        .where(
            Issue.started_at.is_not(None),
            IssueCounts.final_at.is_(None),
            or_(Issue.finished_at.is_(None), Issue.finished_at >= _settled_before(now, settings)),
        )
        .order_by(Issue.id)
    ).all()
    for issue_id in ids:
        refresh_counts(session, issue_id, now)
        session.commit()
    return len(ids)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def issue_report(session: Session, issue: Issue, now: datetime, settings: Settings) -> dict:
    """An issue as `mailer issue show/list --json` prints it, with its stored counts (as the dashboard reads
    them: a list of many 1M-recipient issues must not count each ledger again)."""
    counts = stored_counts(session, issue, now, settings)
    return {
        "number": issue.number,
        "status": issue.status,
        "status_reason": reasons.english(issue.status_reason) or None,
        "window_start": issue.window_start.isoformat(),
        "window_end": issue.window_end.isoformat(),
        "scheduled_at": _iso(issue.scheduled_at),
        "stories": [s.article_id for s in issue.stories],
        "counted_at": counts.counted_at.isoformat(),
        "editions": [
            {
                "lang": e.lang,
                "subject": e.subject,
                "preheader": e.preheader,
                "note": e.note,
                "send_at": _iso(e.send_at),
                "approved_at": _iso(e.approved_at),  # beat sends a send time only once approved
                "approved_by": e.approved_by,
                "started_at": _iso(e.started_at),
                "html_bytes": len((e.html or "").encode()),
                "deliveries": counts.deliveries.get(e.lang, {}),
                "stats": counts.stats.get(e.lang, {}),
            }
            for e in issue.editions
        ],
    }
