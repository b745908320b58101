"""`mailer ops status`: queues, workers, issues in flight with progress and time to drain, stuck batches,
recent failures. Each part is a plain function returning data; the CLI and /metrics format it."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.articles.models import Feed
from mailer.broker import BROKER_DOWN, QUEUES, heartbeats
from mailer.config import Settings
from mailer.delivery.figures import ENGLISH as STALL_ENGLISH
from mailer.delivery.figures import STALLED, Figures, Snapshot, figures, stall_reason
from mailer.delivery.models import Batch, BatchStatus
from mailer.delivery.stats import PARTLY_SENT
from mailer.events import reports
from mailer.issues import reasons
from mailer.issues.models import Edition, Issue
from mailer.issues.states import IssueStatus
from mailer.kv import Store
from mailer.ops import sending
from mailer.redis_client import client, is_redis

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


INSPECT_TIMEOUT = 0.3  # seconds a worker has to answer: ops status answers in well under a second


def workers(settings: Settings, timeout: float = INSPECT_TIMEOUT) -> list[dict] | None:
    """Workers that answer, with the tasks they are running; None when tasks run in-process.

    Their heartbeats (mailer.celery_app) answer first, in one Redis round trip; only when none is
    fresh are the workers asked.
    A broadcast waits its whole timeout unless it knows how many answers to expect: a ping finds the
    workers within `timeout`, then the questions go to them alone and return as soon as all answer."""
    if settings.tasks_in_process:
        return None
    if is_redis(settings.broker_url):
        beating = heartbeats(client(settings.broker_url), time.time())
        if beating:
            return beating
    from mailer.celery_app import create_app

    control = create_app(settings).control
    names = sorted(control.inspect(timeout=timeout).ping() or {})
    if not names:
        return []
    # they answered: these return as soon as each has, so a longer wait costs only a worker that died
    inspect = control.inspect(timeout=timeout + 1.0, destination=names, limit=len(names))
    active = inspect.active() or {}
    queues = inspect.active_queues() or {}
    return [
        {
            "name": name,
            "queues": sorted(q["name"] for q in queues.get(name, [])),
            "active": [{"task": t["name"], "args": t.get("args")} for t in active.get(name, [])],
        }
        for name in names
    ]


def issues_in_flight(
    session: Session,
    now: datetime,
    settings: Settings,
    store: Store | None = None,
    *,
    broker: dict | None = None,
    depths: dict | None = None,
    workers: list[dict] | dict | None = None,
) -> list[dict]:
    """Each issue sending or paused, with its figures (delivery.figures). The broker is asked only to
    explain a stalled send (`broker`, `depths`, `workers` when the caller has them already)."""
    rows = []
    for issue in session.scalars(
        select(Issue)
        .where(Issue.status.in_([IssueStatus.SENDING, IssueStatus.PAUSED]))
        .order_by(Issue.number)
    ):
        snap = sending.snapshot(session, issue, now)
        found = figures(snap, settings.stall_seconds)
        reason = None
        if found.state == STALLED:
            if broker is None:
                broker = broker_state(settings)
            if depths is None:
                depths = _guarded_depths(settings, broker)
            why = sending.signals(session, issue, settings, store, broker, depths, workers)
            reason = stall_reason(found, why)
        rows.append(_row(issue, snap, found, reason))
    return rows


def _guarded_depths(settings: Settings, broker: dict) -> dict | None:
    if broker["status"] != "up":
        return None
    try:
        return queue_depths(settings)
    except BROKER_ERRORS:
        return None


def _row(issue: Issue, snap: Snapshot, found: Figures, reason: str | None) -> dict:
    p = snap.progress
    return {
        "number": issue.number,
        "status": issue.status,
        "state": found.state,
        "reason": reasons.english(issue.status_reason) or None,
        "stall_reason": reason,
        "stalled_for": found.stalled_for,
        "done": p.done,
        "total": p.total,
        "sent": p.sent,
        "cancelled": p.cancelled,
        "failed": p.failed,
        "suppressed": p.suppressed,
        "waiting": p.waiting,
        "summary": p.summary(),
        "unscheduled": list(p.unscheduled),
        "scheduled": [lang for lang in p.scheduled if lang not in snap.due],
        "per_second": None if found.per_second is None else round(found.per_second, 1),
        "window_seconds": round(found.window_seconds, 1),
        "ledger_pending": sorted([*p.ledger_pending, *snap.due]),
        "eta_seconds": found.eta_seconds,
    }


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


def next_send(session: Session) -> dict | None:
    """The next scheduled edition not started yet: {"number", "lang", "at"}, or None."""
    found = session.execute(
        select(Issue.number, Edition.lang, Edition.send_at)
        .join(Issue, Issue.id == Edition.issue_id)
        .where(
            Edition.send_at.is_not(None),
            Edition.started_at.is_(None),
            Issue.status.in_([IssueStatus.SCHEDULED, IssueStatus.SENDING]),
        )
        .order_by(Edition.send_at, Issue.number)
        .limit(1)
    ).first()
    if found is None:
        return None
    number, lang, at = found
    return {"number": number, "lang": lang, "at": at}


def _shown(upcoming: dict | None) -> dict | None:
    return upcoming and {**upcoming, "at": upcoming["at"].isoformat()}  # JSON has no datetime


def last_issue_warnings(session: Session, now: datetime, settings: Settings) -> dict | None:
    """The last issue that went out, with its complaint and bounce rates past their limits (the desk's
    report warnings): {"number", "warnings": [(edition lang or "all", kind, rate)]}, or None."""
    last = reports.last_issues(session, now, settings, limit=1)
    if not last:
        return None
    issue = last[0][0]
    return {
        "number": issue.number,
        "warnings": reports.warnings(reports.figures(session, issue, now, settings)),
    }


def status(session: Session, settings: Settings, now: datetime, store: Store | None = None) -> dict:
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

    queues, answering = guarded(queue_depths), guarded(workers)
    return {
        "broker": broker,
        "queues": queues,
        "workers": answering,
        "issues": issues_in_flight(
            session, now, settings, store, broker=broker, depths=queues, workers=answering
        ),
        "batches": stuck_batches(session, now),
        "failures": recent_failures(session),
        "next_send": _shown(next_send(session)),
        "last_issue": last_issue_warnings(session, now, settings),
    }


def degraded(data: dict) -> list[str]:
    """Why the system cannot send right now, from status(); empty when nothing stops it."""
    reasons = []
    if data["broker"]["status"] == "down":
        reasons.append("the broker is down")
    busy = [i["number"] for i in data["issues"] if i["status"] == IssueStatus.SENDING]
    if data["workers"] == [] and busy:
        reasons.append(f"no worker online while issue #{busy[0]} is sending")
    for i in data["issues"]:
        if i["state"] == STALLED:
            reasons.append(f"issue #{i['number']} is stalled: {_stall_words(i)}")
    return reasons


def _stall_words(row: dict) -> str:
    return STALL_ENGLISH.get(row["stall_reason"] or "", "reason unknown")


def _pace(row: dict) -> str:
    """Rate and time left over the sliding window, or what stands in for them."""
    if row["state"] == STALLED:
        return f"nothing accepted for {row['stalled_for']}s" if row["stalled_for"] else "no rate"
    if row["state"] == "starting":
        return "starting: too early for a rate"
    if row["per_second"] is None:
        return "no rate while paused"
    eta = f"{row['eta_seconds']}s" if row["eta_seconds"] is not None else "unknown"
    window = f"{row['window_seconds']:.0f}s"
    return f"{row['per_second']}/s over the last {window}, time to drain {eta}"


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
        state = f"{i['state']} ({_stall_words(i)})" if i["state"] == STALLED else i["state"]
        head = f"issue #{i['number']}: {state} {i['done']}/{i['total']} recipients{pending}: {i['summary']}"
        if i["state"] == PARTLY_SENT:
            later = [f"not scheduled: {', '.join(i['unscheduled'])}"] if i["unscheduled"] else []
            later += [f"scheduled later: {', '.join(i['scheduled'])}"] if i["scheduled"] else []
            lines.append(f"{head}; {'; '.join(later)}")
            continue
        lines.append(f"{head}, {_pace(i)}" + (f" ({i['reason']})" if i["reason"] else ""))
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
    upcoming = data.get("next_send")
    lines.append(
        f"next scheduled send: #{upcoming['number']} {upcoming['lang']} at "
        f"{datetime.fromisoformat(upcoming['at']):%Y-%m-%d %H:%M} UTC"
        if upcoming
        else "next scheduled send: none"
    )
    last = data.get("last_issue")
    if last:
        for lang, kind, rate in last["warnings"]:
            edition = "whole issue" if lang == "all" else f"{lang} edition"
            limit = "0.1%" if kind == "complaints" else "2%"
            lines.append(
                f"warning:  issue #{last['number']} {edition}: {kind[:-1]} rate "
                f"{reports.percent(rate)}, above the {limit} limit"
            )
    return lines
