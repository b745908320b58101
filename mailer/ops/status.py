"""`mailer ops status`: queues, workers, issues in flight with progress and time to drain, stuck batches,
recent failures. Each part is a plain function returning data; the CLI and /metrics format it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.articles.models import Feed
from mailer.celery_app import BROKER_DOWN, QUEUES
from mailer.config import Settings
from mailer.delivery.models import Batch, BatchStatus
from mailer.delivery.stats import PARTLY_SENT, progress
from mailer.issues import reasons
from mailer.issues.models import Edition, Issue
from mailer.issues.states import IssueStatus
from mailer.redis_client import client, is_redis

RATE_WINDOW = timedelta(minutes=5)  # recipients finished in this window give the drain rate
PRIORITY_SEP = (
    "\x06\x16"  # kombu's Redis transport keeps priority levels in lists named queue + sep + n
)


BROKER_ERRORS = BROKER_DOWN  # what a broker that is down raises through redis-py or kombu


def broker_state(settings: Settings) -> dict:
    """{"status": "up"} or {"status": "down", "error": ...}; {"status": "none"} when tasks run in-process.
    Asked first, so that nothing else waits on (or retries) a broker that is down."""
    if settings.tasks_in_process:
        return {"status": "none"}
    try:
        if is_redis(settings.broker_url):
            client(settings.broker_url).ping()
        else:
            from mailer.celery_app import create_app

            with create_app(settings).connection_for_write() as conn:
                conn.ensure_connection(max_retries=1)
    except BROKER_ERRORS as exc:
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"}
    return {"status": "up"}


def queue_depths(settings: Settings) -> dict[str, int] | None:
    """Messages waiting per queue, read straight from Redis; None when tasks run in-process."""
    if not is_redis(settings.broker_url):
        return None
    redis_ = client(settings.broker_url)
    depths = {}
    for queue in QUEUES:
        names = [queue] + [f"{queue}{PRIORITY_SEP}{n}" for n in range(1, 10)]
        pipe = redis_.pipeline(transaction=False)
        for name in names:
            pipe.llen(name)
        depths[queue] = sum(pipe.execute())
    depths["unacked"] = redis_.hlen("unacked")
    return depths


def workers(settings: Settings, timeout: float = 1.0) -> list[dict] | None:
    """Workers that answer, with the tasks they are running; None when tasks run in-process."""
    if settings.tasks_in_process:
        return None
    from mailer.celery_app import create_app

    inspect = create_app(settings).control.inspect(timeout=timeout)
    active = inspect.active() or {}
    queues = inspect.active_queues() or {}
    return [
        {
            "name": name,
            "queues": sorted(q["name"] for q in queues.get(name, [])),
            "active": [{"task": t["name"], "args": t.get("args")} for t in tasks],
        }
        for name, tasks in sorted(active.items())
    ]


def issues_in_flight(session: Session, now: datetime) -> list[dict]:
    rows = []
    for issue in session.scalars(
        select(Issue)
        .where(Issue.status.in_([IssueStatus.SENDING, IssueStatus.PAUSED]))
        .order_by(Issue.number)
    ):
        p = progress(session, issue)
        recent = session.scalar(
            select(func.coalesce(func.sum(Batch.size), 0)).where(
                Batch.issue_id == issue.id,
                Batch.status == BatchStatus.ACCEPTED,
                Batch.sent_at >= now - RATE_WINDOW,
            )
        )
        rate = (recent or 0) / RATE_WINDOW.total_seconds()  # recipients per second lately
        # editions whose ledger is being written, or due and about to be: the total is not final yet
        # (the languages only: the editions' rows carry their rendered HTML, not worth reading on every scrape)
        due = list(
            session.scalars(
                select(Edition.lang).where(
                    Edition.issue_id == issue.id,
                    Edition.started_at.is_(None),
                    Edition.send_at <= now,
                )
            )
        )
        unwritten = sorted([*p.ledger_pending, *due])
        if unwritten or (p.waiting and not rate):
            eta = None
        else:
            eta = round(p.waiting / rate) if p.waiting else 0
        rows.append(
            {
                "number": issue.number,
                "status": issue.status,
                "state": p.state,
                "reason": reasons.english(issue.status_reason) or None,
                "done": p.done,
                "total": p.total,
                "sent": p.sent,
                "cancelled": p.cancelled,
                "failed": p.failed,
                "suppressed": p.suppressed,
                "waiting": p.waiting,
                "summary": p.summary(),
                "unscheduled": list(p.unscheduled),
                "scheduled": [lang for lang in p.scheduled if lang not in due],
                "per_second": round(rate, 1),
                "ledger_pending": unwritten,
                "eta_seconds": eta,
            }
        )
    return rows


def stuck_batches(session: Session, now: datetime) -> dict[str, int]:
    """Batches that need attention or are waiting on something."""
    counts = dict(
        session.execute(
            select(Batch.status, func.count())
            .where(Batch.status.in_([BatchStatus.UNKNOWN, BatchStatus.RETRYING]))
            .group_by(Batch.status)
        ).all()
    )
    expired = session.scalar(
        select(func.count()).where(Batch.status == BatchStatus.SENDING, Batch.leased_until < now)
    )
    return {
        "unknown": counts.get(BatchStatus.UNKNOWN, 0),
        "retrying": counts.get(BatchStatus.RETRYING, 0),
        "lease_expired": expired or 0,
    }


def recent_failures(session: Session, limit: int = 10) -> list[dict]:
    batches = session.execute(
        select(Batch.id, Issue.number, Batch.last_error, Batch.updated_at)
        .join(Issue, Issue.id == Batch.issue_id)
        .where(Batch.status == BatchStatus.FAILED)
        .order_by(Batch.updated_at.desc())
        .limit(limit)
    )
    failures = [
        {"kind": "batch", "id": b, "issue": n, "error": e, "at": at.isoformat()}
        for b, n, e, at in batches
    ]
    feeds = session.execute(
        select(Feed.url, Feed.last_error, Feed.last_fetched_at).where(Feed.last_error.is_not(None))
    )
    failures += [
        {"kind": "feed", "url": u, "error": e, "at": at.isoformat() if at else None}
        for u, e, at in feeds
    ]
    return failures


def status(session: Session, settings: Settings, now: datetime) -> dict:
    """Everything ops watch. The database parts answer whatever the broker does: a Redis outage is when
    this is run most (then "broker" says so, and "queues"/"workers" carry the error instead of data)."""
    broker = broker_state(settings)

    def guarded(fn):
        if broker["status"] == "down":
            return {"error": "broker down"}
        try:
            return fn(settings)
        except BROKER_ERRORS as exc:  # went down since the ping
            return {"error": f"broker unreachable: {type(exc).__name__}"}

    return {
        "broker": broker,
        "queues": guarded(queue_depths),
        "workers": guarded(workers),
        "issues": issues_in_flight(session, now),
        "batches": stuck_batches(session, now),
        "failures": recent_failures(session),
    }


def degraded(data: dict) -> list[str]:
    """Why the system cannot send right now, from status(); empty when nothing stops it."""
    reasons = []
    if data["broker"]["status"] == "down":
        reasons.append("the broker is down")
    sending = [i["number"] for i in data["issues"] if i["status"] == IssueStatus.SENDING]
    if data["workers"] == [] and sending:
        reasons.append(f"no worker online while issue #{sending[0]} is sending")
    return reasons


def as_text(data: dict) -> list[str]:
    """status() as the lines `mailer ops status` prints."""
    lines: list[str] = []
    queues, workers, broker = data["queues"], data["workers"], data["broker"]
    if broker["status"] == "down":
        lines.append(
            f"broker:   DOWN ({broker['error']}): nothing can be queued; what follows is from the database"
        )
    if queues is None:
        lines.append("queues:   none (no MAILER_BROKER_URL: tasks run in-process)")
    elif "error" in queues:
        lines.append(f"queues:   {queues['error']}")
    else:
        lines.append("queues:   " + "  ".join(f"{name}={n}" for name, n in queues.items()))
    if isinstance(workers, dict):
        lines.append(f"workers:  {workers['error']}")
    elif isinstance(workers, list):
        lines.append(
            f"workers:  {len(workers)} online"
            + ("" if workers else "  <- nothing is consuming the queues")
        )
        for w in workers:
            running = ", ".join(t["task"] for t in w["active"]) or "idle"
            lines.append(f"  {w['name']} [{','.join(w['queues'])}]: {running}")
    for i in data["issues"]:
        pending = (
            f" (ledger still to write: {', '.join(i['ledger_pending'])})"
            if i["ledger_pending"]
            else ""
        )
        head = f"issue #{i['number']}: {i['state']} {i['done']}/{i['total']} recipients{pending}: {i['summary']}"
        if i["state"] == PARTLY_SENT:
            later = [f"not scheduled: {', '.join(i['unscheduled'])}"] if i["unscheduled"] else []
            later += [f"scheduled later: {', '.join(i['scheduled'])}"] if i["scheduled"] else []
            lines.append(f"{head}; {'; '.join(later)}")
            continue
        eta = f"{i['eta_seconds']}s" if i["eta_seconds"] is not None else "unknown"
        lines.append(
            f"{head}, {i['per_second']}/s, time to drain {eta}"
            + (f" ({i['reason']})" if i["reason"] else "")
        )
    if not data["issues"]:
        lines.append("issues:   none in flight")
    b = data["batches"]
    lines.append(
        f"batches:  unknown={b['unknown']} retrying={b['retrying']} lease_expired={b['lease_expired']}"
    )
    for f in data["failures"]:
        where = (
            f"batch {f['id']} of issue #{f['issue']}"
            if f["kind"] == "batch"
            else f"feed {f['url']}"
        )
        lines.append(f"failure:  {where}: {f['error']}")
    return lines
