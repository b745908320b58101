"""An issue's send figures from one snapshot: state, rate, time left, and why a send is stalled.

Pure: the caller reads the snapshot (delivery.stats.send_snapshot, and the signals ops gathers) and
every place that shows a send (the desk, `mailer ops status`, /metrics) shows what this says.

The rate is the recipients settled by accepted batches over a sliding window: the last
RATE_WINDOW_SECONDS, or since the send's first request after it last (re)started when that is shorter. A rate taken from a long
fixed window divided by its full length reads a one-minute send as hours long in its first seconds,
and keeps a stalled send "moving" for the rest of the window. Until there is enough to measure
(MIN_SECONDS and MIN_BATCHES accepted) the send is "starting"; once recipients wait and nothing has
been accepted for the stall threshold, it is "stalled".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mailer.coded import decode
from mailer.delivery.stats import PARTLY_SENT, Progress
from mailer.issues import reasons
from mailer.issues.states import IssueStatus

RATE_WINDOW_SECONDS = 60.0
MIN_SECONDS = 5.0  # a rate over less time than this says more about the first batches than the send
MIN_BATCHES = 2  # ...and one batch gives a moment, not a rate

STARTING = "starting"
SENDING = "sending"
STALLED = "stalled"
PAUSED = "paused"

# Why a send is stalled, most specific first (stall_reason picks the first that holds).
PAUSED_BY_SYSTEM = "paused_by_system"
BROKER_DOWN = "broker_down"
DATABASE_ERRORS = "database_errors"
NO_WORKER = "no_worker"
RATE_LIMIT = "rate_limit"
PROVIDER_ERRORS = "provider_errors"
QUEUE_LOST = "queue_lost"
UNKNOWN = "unknown"
STALL_REASONS = (
    PAUSED_BY_SYSTEM,
    BROKER_DOWN,
    DATABASE_ERRORS,
    NO_WORKER,
    RATE_LIMIT,
    PROVIDER_ERRORS,
    QUEUE_LOST,
    UNKNOWN,
)
ENGLISH = {  # for ops status and the logs; the desk says them in its own language
    PAUSED_BY_SYSTEM: "paused by the system",
    BROKER_DOWN: "broker down",
    DATABASE_ERRORS: "database errors",
    NO_WORKER: "no worker on the send queue",
    RATE_LIMIT: "held by the send rate limit",
    PROVIDER_ERRORS: "the provider refuses for now (retrying)",
    QUEUE_LOST: "queue lost (the sweep queues its batches again)",
    UNKNOWN: "reason unknown",
}


@dataclass(frozen=True)
class Snapshot:
    """What the figures are made of, read at one moment `now`."""

    progress: Progress
    now: datetime
    status_reason: str | None = None  # the issue's stored reason (mailer.issues.reasons)
    since: datetime | None = None  # when the send last (re)started: an edition's start, a resume
    # (sent_at, recipients) of the accepted batches at or after now - RATE_WINDOW_SECONDS
    accepted: Sequence[tuple[datetime, int]] = ()
    last_accepted: datetime | None = None  # the newest accepted batch's sent_at, however old
    due: tuple[str, ...] = ()  # editions whose send time has come and that have not started yet


@dataclass(frozen=True)
class Signals:
    """What ops can tell about why nothing moves; None where it cannot be known here."""

    broker: str = "none"  # "up", "down", or "none" (tasks run in-process)
    send_depth: int | None = None  # messages waiting on the `send` queue
    unacked: int | None = None  # tasks held by workers
    workers_on_send: int | None = None  # workers consuming `send` (only when they were asked)
    database_errors: bool = False  # a worker recorded a database error within the stall threshold
    rate_limit_wait: float = 0.0  # seconds until the send rate limit has room
    retrying_with_error: int = 0  # the issue's batches waiting to retry after a provider error
    queued_work: int = 0  # the issue's batches pending or retrying (waiting for a task)


@dataclass(frozen=True)
class Figures:
    state: str  # starting | sending | stalled | paused | partly sent | the issue's status otherwise
    per_second: float | None = None  # recipients a second over the window; None while unknown
    eta_seconds: int | None = None  # waiting / per_second; None while it cannot be said
    stalled_for: int | None = None  # seconds without an accepted batch, when stalled
    window_seconds: float = 0.0  # how long the rate was measured over
    reason: str | None = None  # one of STALL_REASONS, when stalled (stall_reason fills it)

    @property
    def in_flight(self) -> bool:
        return self.state in (STARTING, SENDING, STALLED, PAUSED)


def paused_by_system(status_reason: str | None) -> bool:
    """Paused by a worker (the provider refused the credentials), not by an editor or the CLI."""
    coded = decode(status_reason)
    return coded is not None and coded.code != reasons.PAUSED


def figures(snap: Snapshot, stall_seconds: float) -> Figures:
    """The send's figures now. A stalled send's reason is left to stall_reason: finding it costs
    calls to the broker, asked only when there is a stall to explain."""
    p, now = snap.progress, snap.now
    if p.status == IssueStatus.PAUSED:
        if paused_by_system(snap.status_reason):
            return Figures(STALLED, reason=PAUSED_BY_SYSTEM)
        return Figures(PAUSED)
    if p.status != IssueStatus.SENDING:
        return Figures(p.status)
    if p.state == PARTLY_SENT:
        return Figures(PARTLY_SENT)
    since = snap.since or now
    window_start = max(now - timedelta(seconds=RATE_WINDOW_SECONDS), since)
    # A send younger than the window is measured from its first batch's request (a batch's sent_at):
    # the time before it (the first ledger block written, a worker taking it) is latency, not pace.
    first = min((at for at, _ in snap.accepted if at >= window_start), default=None)
    if first is not None and window_start == since:
        window_start = first
    window = max((now - window_start).total_seconds(), 0.0)
    in_window = [n for at, n in snap.accepted if at >= window_start]
    work_waiting = bool(p.waiting or p.ledger_pending or snap.due)
    quiet_since = max(snap.last_accepted or since, since)
    quiet = (now - quiet_since).total_seconds()
    if work_waiting and quiet >= stall_seconds:
        return Figures(STALLED, per_second=0.0, stalled_for=int(quiet), window_seconds=window)
    # Starting: too little time, or too few batches while the window is still the time since the start
    # (past a full window, few batches are a slow send, and the rate says how slow).
    nothing_yet = snap.last_accepted is None or snap.last_accepted < since
    few = len(in_window) < MIN_BATCHES and window < RATE_WINDOW_SECONDS
    if window < MIN_SECONDS or few or nothing_yet:
        return Figures(STARTING, window_seconds=window)
    rate = sum(in_window) / window
    total_known = not (p.ledger_pending or snap.due)
    eta = round(p.waiting / rate) if total_known and rate > 0 else None
    return Figures(SENDING, per_second=rate, eta_seconds=eta, window_seconds=window)


def stall_reason(found: Figures, signals: Signals) -> str:
    """The first reason that holds, for a stalled send; UNKNOWN when none can be told."""
    if found.reason:
        return found.reason
    if signals.broker == "down":
        return BROKER_DOWN
    if signals.database_errors:
        return DATABASE_ERRORS
    if signals.workers_on_send == 0:
        return NO_WORKER
    if signals.rate_limit_wait > 0:
        return RATE_LIMIT
    if signals.retrying_with_error:
        return PROVIDER_ERRORS
    if signals.broker == "up" and signals.send_depth is not None:
        if signals.send_depth > 0:  # tasks waiting and nobody taking them
            return NO_WORKER
        if signals.queued_work and not signals.unacked:  # batches wait, and no task holds them
            return QUEUE_LOST
    return UNKNOWN
