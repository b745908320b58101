"""GET /metrics: Prometheus series, read at scrape time from the database, Redis and the shared counters."""

from __future__ import annotations

from collections import Counter

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import CollectorRegistry
from sqlalchemy import func, select

from mailer.config import get_settings
from mailer.db import session_scope, utcnow
from mailer.delivery import counters
from mailer.delivery.models import Batch
from mailer.events.stats import stored_counts
from mailer.issues.models import Issue
from mailer.issues.states import IssueStatus
from mailer.ops import status

OUTCOMES = ("sent", "cancelled", "failed", "suppressed", "waiting")  # of mailer_issue_recipients
RECENT_ISSUES = 5  # deliveries of the latest issues: a gauge over all history would scan every row


class Collector:
    def collect(self):
        settings, now = get_settings(), utcnow()
        with session_scope() as session:
            latest = session.scalars(select(Issue).where(Issue.started_at.is_not(None))
                                     .order_by(Issue.number.desc()).limit(RECENT_ISSUES)).all()
            deliveries = GaugeMetricFamily("mailer_deliveries", "Deliveries of recent issues by status and language "
                                           "(as last counted by beat)", labels=["status", "lang"])
            totals: Counter = Counter()
            for issue in latest:
                for lang, by_status in stored_counts(session, issue, now, settings).deliveries.items():
                    totals.update({(st, lang): n for st, n in by_status.items()})
            for (st, lang), n in sorted(totals.items()):
                deliveries.add_metric([st, lang], n)
            yield deliveries
            batches = GaugeMetricFamily("mailer_batches", "Batches by status", labels=["status"])
            for st, n in session.execute(select(Batch.status, func.count()).group_by(Batch.status)):
                batches.add_metric([st], n)
            yield batches
            drain = GaugeMetricFamily("mailer_time_to_drain_seconds", "Estimated seconds until an issue in flight "
                                      "is sent", labels=["issue"])
            recipients = GaugeMetricFamily("mailer_issue_recipients", "Recipients of an issue in flight by outcome "
                                           "so far (sent, cancelled, failed, suppressed, waiting)",
                                           labels=["issue", "outcome"])
            for row in status.issues_in_flight(session, now):
                for outcome in OUTCOMES:
                    recipients.add_metric([str(row["number"]), outcome], row[outcome])
                if row["state"] == IssueStatus.SENDING and row["eta_seconds"] is not None:
                    drain.add_metric([str(row["number"])], row["eta_seconds"])
            yield drain
            yield recipients
        # The broker's parts: a scrape answers without them when it is down (the database's series above are
        # what ops need most then), and mailer_broker_up says why they are missing.
        broker = status.broker_state(settings)
        up = GaugeMetricFamily("mailer_broker_up", "1 when the Celery broker answers (or tasks run in-process), "
                               "0 when it is down")
        up.add_metric([], 0 if broker["status"] == "down" else 1)
        yield up
        depths, shared = {}, {}
        if broker["status"] != "down":
            try:
                depths = status.queue_depths(settings) or {}
                shared = counters.store().read()
            except status.BROKER_ERRORS:
                pass  # went down since the ping: the series are left out of this scrape
        queue = GaugeMetricFamily("mailer_queue_depth", "Messages waiting per Celery queue", labels=["queue"])
        for name, n in depths.items():
            queue.add_metric([name], n)
        yield queue
        yield from _from_counters(shared)


def _from_counters(values: dict[str, float]):
    responses = CounterMetricFamily("mailer_sendgrid_responses", "Provider answers by status", labels=["status"])
    events = CounterMetricFamily("mailer_webhook_events", "Webhook events received by type", labels=["event"])
    for key, value in values.items():
        kind, _, label = key.partition(":")
        if kind == "responses":
            responses.add_metric([label], value)
        elif kind == "events":
            events.add_metric([label], value)
    yield responses
    yield events
    buckets = [(str(b), values.get(f"batch_seconds:le:{b}", 0.0)) for b in counters.LATENCY_BUCKETS]
    buckets.append(("+Inf", values.get("batch_seconds:count", 0.0)))
    latency = HistogramMetricFamily("mailer_batch_send_seconds", "Time for one batch request to the provider")
    latency.add_metric([], buckets, sum_value=values.get("batch_seconds:sum", 0.0))
    yield latency


def registry() -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(Collector())
    return reg
