"""GET /metrics: Prometheus series, read at scrape time from the database, Redis and the shared counters
(moved from Redis into the database at each scrape: mailer.delivery.counters.fold).

Label sets stay bounded: per-issue series cover only the issues in flight or finished within
MAILER_STATS_REFRESH_DAYS (at most MAX_ISSUES of them), statuses and languages are fixed sets, and webhook
event types outside SendGrid's list are counted as `other`.
"""

from __future__ import annotations

import platform
from datetime import timedelta
from importlib import metadata

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import CollectorRegistry
from sqlalchemy import func, or_, select

from mailer.broker import BEAT_TICK_KEY
from mailer.db import utcnow
from mailer.delivery import counters
from mailer.delivery.figures import SENDING, STALLED, UNKNOWN, paused_by_system
from mailer.delivery.models import Batch
from mailer.delivery.stats import OUTCOMES
from mailer.events.stats import stored_counts
from mailer.issues.models import Issue
from mailer.issues.states import IssueStatus
from mailer.mail.models import MailStatus, OutboxMail
from mailer.ops import readiness, status
from mailer.redis_client import client, is_redis
from mailer.runtime import Runtime
from subscribers import lookup

MAX_ISSUES = (
    20  # per-issue series for at most this many issues (the newest), whatever the window holds
)
DISTRIBUTION = "bilingual-mailer"


def _gauge(name: str, doc: str, labels=()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def _recent_issues(session, now, settings) -> list[Issue]:
    """In flight, or finished within MAILER_STATS_REFRESH_DAYS: what beat keeps counting."""
    since = now - timedelta(days=settings.stats_refresh_days)
    return list(
        session.scalars(
            select(Issue)
            .where(
                Issue.started_at.is_not(None),
                or_(Issue.finished_at.is_(None), Issue.finished_at >= since),
            )
            .order_by(Issue.number.desc())
            .limit(MAX_ISSUES)
        )
    )


def _issue_series(session, now, settings, store):
    issues = _recent_issues(session, now, settings)
    deliveries = _gauge(
        "mailer_deliveries",
        "Deliveries of an issue by language and ledger status (each "
        "recipient's furthest state, as last counted by beat)",
        ("issue", "lang", "status"),
    )
    stats = _gauge(
        "mailer_issue_stats",
        "Recipients of an issue by language and stat (sent, delivered, bounced, "
        "complained, opened, clicked, unsubscribed: each counted on its own)",
        ("issue", "lang", "stat"),
    )
    for issue in issues:
        counts = stored_counts(session, issue, now, settings)
        for lang, by_status in sorted(counts.deliveries.items()):
            for st, n in sorted(by_status.items()):
                deliveries.add_metric([str(issue.number), lang, st], n)
        for lang, by_stat in sorted(counts.stats.items()):
            for stat, n in sorted(by_stat.items()):
                stats.add_metric([str(issue.number), lang, stat], n)
    yield deliveries
    yield stats
    yield from _status_series(issues)
    batches = _gauge("mailer_batches", "Batches of an issue by status", ("issue", "status"))
    numbers = {i.id: str(i.number) for i in issues}
    if numbers:
        for issue_id, st, n in session.execute(
            select(Batch.issue_id, Batch.status, func.count())
            .where(Batch.issue_id.in_(list(numbers)))
            .group_by(Batch.issue_id, Batch.status)
        ):
            batches.add_metric([numbers[issue_id], st], n)
    yield batches
    drain = _gauge(
        "mailer_time_to_drain_seconds",
        "Estimated seconds until an issue in flight is sent",
        ("issue",),
    )
    recipients = _gauge(
        "mailer_issue_recipients",
        "Recipients of an issue in flight by outcome so far (sent, "
        "cancelled, failed, suppressed, waiting)",
        ("issue", "outcome"),
    )
    rate = _gauge(
        "mailer_issue_send_rate",
        "Recipients a second an issue in flight sends, over the last minute (absent while starting)",
        ("issue",),
    )
    stalled = _gauge(
        "mailer_issue_stalled",
        "1 when an issue in flight has recipients waiting and nothing accepted for "
        "MAILER_STALL_SECONDS (or was paused by the system), else 0",
        ("issue",),
    )
    why = _gauge(
        "mailer_issue_stall_reason",
        "1 for the reason a stalled issue is stalled (broker_down, database_errors, no_worker, "
        "rate_limit, provider_errors, queue_lost, paused_by_system, unknown)",
        ("issue", "reason"),
    )
    for row in status.issues_in_flight(session, now, settings, store):
        number = str(row["number"])
        for outcome in OUTCOMES:
            recipients.add_metric([number, outcome], row[outcome])
        if row["state"] == SENDING and row["eta_seconds"] is not None:
            drain.add_metric([number], row["eta_seconds"])
        if row["per_second"] is not None:
            rate.add_metric([number], row["per_second"])
        stalled.add_metric([number], 1 if row["state"] == STALLED else 0)
        if row["state"] == STALLED:
            why.add_metric([number, row["stall_reason"] or UNKNOWN], 1)
    yield drain
    yield recipients
    yield rate
    yield stalled
    yield why


def _status_series(issues: list[Issue]):
    """Each recent issue's status, one series per status so an alert can match `status="failed"`, and
    whether a pause was the system's (a worker's, e.g. refused credentials) rather than an editor's."""
    current = _gauge(
        "mailer_issue_status",
        "1 for an issue's current status, 0 for the others (issues in flight or finished lately)",
        ("issue", "status"),
    )
    by_system = _gauge(
        "mailer_issue_paused_by_system",
        "1 when an issue is paused by the system (a worker, e.g. SendGrid refused the credentials), "
        "0 otherwise",
        ("issue",),
    )
    for issue in issues:
        number = str(issue.number)
        for st in IssueStatus:
            current.add_metric([number, st.value], 1 if issue.status == st else 0)
        paused = issue.status == IssueStatus.PAUSED and paused_by_system(issue.status_reason)
        by_system.add_metric([number], 1 if paused else 0)
    yield current
    yield by_system


def _send_workers(settings, issues_sending: bool) -> GaugeMetricFamily:
    """Workers consuming `send`: asked of the workers (a short broadcast) only while an issue is
    sending, so a scrape costs nothing extra the rest of the time."""
    gauge = _gauge(
        "mailer_send_workers",
        "Workers consuming the send queue, counted while an issue is sending (absent otherwise)",
    )
    if issues_sending:
        found = status.workers(settings)
        if found is not None:
            gauge.add_metric([], sum(1 for w in found if "send" in w["queues"]))
    return gauge


def _database_series(session, settings, store):
    people = _gauge(
        "mailer_subscribers",
        "Subscribers by status and language (counted at most MAILER_STATS_REFRESH_SECONDS x 2 ago)",
        ("status", "lang"),
    )
    counted = lookup.cached_counts(session, store, 2 * settings.stats_refresh_seconds)
    for (lang, st), n in sorted(counted.items()):
        people.add_metric([st, lang], n)
    yield people
    upcoming = status.next_send(session)
    next_send = _gauge(
        "mailer_next_send_timestamp_seconds",
        "When the next scheduled edition is due (Unix time); absent when none is scheduled",
    )
    if upcoming is not None:
        next_send.add_metric([], upcoming["at"].timestamp())
    yield next_send
    mails = _gauge(
        "mailer_outbox_mails", "Transactional mails not sent yet, by status", ("status",)
    )
    open_ = dict(
        session.execute(
            select(OutboxMail.status, func.count())
            .where(OutboxMail.status.in_([MailStatus.PENDING, MailStatus.SENDING]))
            .group_by(OutboxMail.status)
        ).all()
    )
    for st in (MailStatus.PENDING, MailStatus.SENDING):
        mails.add_metric([st.value], open_.get(st.value, 0))
    yield mails


def _build_info():
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        version = "unknown"
    info = _gauge("mailer_build_info", "Always 1: the running version", ("version", "python"))
    info.add_metric([version, platform.python_version()], 1)
    return info


def _readiness_series(found: dict[str, str]):
    ready = _gauge(
        "mailer_ready",
        "1 when /readyz answers 200 (the database, and the broker when one is set, answer), else 0",
    )
    ready.add_metric([], 1 if readiness.ready(found) else 0)
    yield ready
    up = _gauge(
        "mailer_dependency_up",
        "1 when a dependency /readyz checks answers, 0 when it does not",
        ("dependency",),
    )
    for name, answer in sorted(found.items()):
        up.add_metric([name], 1 if answer == readiness.OK else 0)
    yield up


class Collector:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def collect(self):
        settings, now = self.runtime.settings, utcnow()
        yield _build_info()
        found = readiness.checks(self.runtime)
        yield from _readiness_series(found)
        # The broker's parts: a scrape answers without them when it is down (the database's series are
        # what ops need most then), and mailer_broker_up says why they are missing.
        broker = status.broker_state(settings)
        sending, shared = False, {}
        # Without the database a scrape still says so (mailer_ready, mailer_dependency_up) and what
        # the broker holds.
        if found["database"] == readiness.OK:
            with self.runtime.session() as session:
                yield from _issue_series(session, now, settings, self.runtime.kv)
                yield from _database_series(session, settings, self.runtime.kv)
                sending = bool(
                    session.scalar(select(func.count()).where(Issue.status == IssueStatus.SENDING))
                )
                shared = (
                    counters.totals(session)
                    if broker["status"] == "down"
                    else counters.fold(self.runtime.kv, session)
                )
        up = _gauge(
            "mailer_broker_up",
            "1 when the Celery broker answers (or tasks run in-process), 0 when it is down",
        )
        up.add_metric([], 0 if broker["status"] == "down" else 1)
        yield up
        depths, tick = {}, None
        workers = _send_workers(settings, False)
        if broker["status"] != "down":
            try:
                workers = _send_workers(settings, sending)
                depths = dict(status.queue_depths(settings) or {})
                tick = (
                    client(settings.broker_url).get(BEAT_TICK_KEY)
                    if is_redis(settings.broker_url)
                    else None
                )
            except status.BROKER_ERRORS:
                pass  # went down since the ping: the series are left out of this scrape
        unacked = depths.pop(
            "unacked", None
        )  # tasks delivered to a worker and not yet acknowledged: no queue
        queue = _gauge("mailer_queue_depth", "Messages waiting per Celery queue", ("queue",))
        for name, n in depths.items():
            queue.add_metric([name], n)
        yield queue
        held = _gauge(
            "mailer_tasks_unacked", "Tasks delivered to a worker and not acknowledged yet"
        )
        if unacked is not None:
            held.add_metric([], unacked)
        yield held
        beat = _gauge(
            "mailer_beat_last_tick_timestamp_seconds", "When beat last published a task (Unix time)"
        )
        if tick is not None:
            beat.add_metric([], float(tick))
        yield beat
        yield workers
        yield from _from_counters(shared)


def _from_counters(values: dict[str, float]):
    responses = CounterMetricFamily(
        "mailer_sendgrid_responses", "Provider answers by status", labels=["status"]
    )
    events = CounterMetricFamily(
        "mailer_webhook_events", "Webhook events received by type", labels=["event"]
    )
    held = CounterMetricFamily(
        "mailer_confirmation_mails_held",
        "Sign-ups answered as ever whose confirmation mail a limit held back, by limit",
        labels=["limit"],
    )
    for key, value in values.items():
        kind, _, label = key.partition(":")
        if kind == "responses":
            responses.add_metric([label], value)
        elif kind == "events":
            events.add_metric([label], value)
        elif kind == "held":
            held.add_metric([label], value)
    yield responses
    yield events
    yield held
    buckets = [(str(b), values.get(f"batch_seconds:le:{b}", 0.0)) for b in counters.LATENCY_BUCKETS]
    buckets.append(("+Inf", values.get("batch_seconds:count", 0.0)))
    latency = HistogramMetricFamily(
        "mailer_batch_send_seconds", "Time for one batch request to the provider"
    )
    latency.add_metric([], buckets, sum_value=values.get("batch_seconds:sum", 0.0))
    yield latency


def registry(runtime: Runtime) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(Collector(runtime))
    return reg
