"""Retention: old raw events and ledger rows go, the report, the desk and a subscriber's export still
answer from what is kept, and nothing of an issue in flight or with a batch unsettled goes."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import func, select, text, update

from mailer import partitions
from mailer.cli import main
from mailer.db import is_postgres, utcnow
from mailer.delivery.facade import send_now
from mailer.delivery.models import Batch, BatchStatus, Delivery
from mailer.events.apply import apply_pending
from mailer.events.models import IssueCounts, WebhookEvent
from mailer.events.privacy import subscriber_report
from mailer.events.reports import figures, hourly, top_links
from mailer.events.retention import Plan, run_prune
from mailer.events.stats import refresh_counts
from mailer.events.store import store
from mailer.issues.models import Edition, Issue
from mailer.issues.service import draft_issue
from subscribers.models import Subscriber
from tests.factories import start_send


def _apply(session, now):
    """Apply the stored events with the test run's settings (the soft-bounce limit is all they read)."""
    from mailer.config import Settings
    from tests.conftest import TEST_SETTINGS

    apply_pending(session, now, Settings(_env_file=None, **TEST_SETTINGS))


def _event(kind, d, at, n=0, **extra):
    return {
        "event": kind,
        "email": d.email,
        "timestamp": int(at.timestamp()),
        "sg_event_id": f"{kind}-{d.id}-{n}",
        "issue_id": str(d.issue_id),
        "delivery_id": str(d.id),
        **extra,
    }


def _deliveries(session, issue):
    rows = session.execute(
        select(Delivery, Edition)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.issue_id == issue.id)
        .order_by(Delivery.id)
    ).all()
    return [d for d, e in rows if e.lang == "ko"], [d for d, e in rows if e.lang == "en"]


def _with_events(session, issue):
    """Delivered to all, opens and clicks on the Korean edition, a bounce on the English one."""
    ko, en = _deliveries(session, issue)
    start = session.scalar(select(Edition.started_at).where(Edition.issue_id == issue.id))
    events = [_event("delivered", d, start) for d in ko + en]
    events += [
        _event("open", ko[0], start + timedelta(minutes=10), 1),
        _event("open", ko[0], start + timedelta(hours=5, minutes=1), 2),
        _event("open", ko[1], start + timedelta(hours=5, minutes=30)),
        _event("click", ko[1], start + timedelta(hours=6), url="https://news.example.com/a"),
        _event("click", ko[2], start + timedelta(hours=6), url="https://news.example.com/a"),
        _event("click", ko[2], start + timedelta(hours=7), 1, url="https://news.example.com/b"),
        _event("bounce", en[0], start + timedelta(minutes=1)),
    ]
    store(session, events, utcnow())
    _apply(session, utcnow())
    session.commit()
    return ko, en


def _age(session, issue, days):
    """Everything of the issue `days` older: its finish, its events' arrival, its stored counts."""
    back = timedelta(days=days)
    rows = [
        session.get(Issue, issue.id),
        session.get(IssueCounts, issue.id),
        *session.scalars(select(WebhookEvent).where(WebhookEvent.issue_id == issue.id)),
    ]
    for row in rows:
        for name in ("finished_at", "received_at", "processed_at", "counted_at"):
            if getattr(row, name, None) is not None:
                setattr(row, name, getattr(row, name) - back)
    session.commit()


def _report(session, issue, settings):
    figs = figures(session, issue, utcnow(), settings)
    return figs, top_links(session, issue), hourly(session, issue)


def _rows(session, model, issue):
    return session.scalar(select(func.count()).select_from(model).where(model.issue_id == issue.id))


def _nothing_of(done: Plan, issue) -> bool:
    """Nothing of `issue` went: no row (of any issue), and none of its partitions (an empty partition
    of an issue that an earlier test left may go)."""
    return (done.events, done.deliveries, done.finalized) == (0, 0, []) and not any(
        issue.id in issues for issues in done.partitions.values()
    )


def _into_default_partitions(session, issue):
    """PostgreSQL: the issue's rows moved to the default partitions, as those of an issue that had no
    partitions of its own when they were written; SQLite: nothing."""
    if not is_postgres(session):
        return
    for table in partitions.TABLES:
        name = partitions.name(table, issue.id)
        session.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name}"))
        session.execute(text(f"INSERT INTO {table} SELECT * FROM {name}"))
        session.execute(text(f"DROP TABLE {name}"))
    session.commit()


def _sent_issue(session, runtime):
    issue = draft_issue(session, utcnow(), runtime.settings)
    session.commit()
    send_now(runtime, issue.number)
    session.expire_all()
    return session.get(Issue, issue.id)


def test_a_pruned_issue_reports_the_same_figures_and_a_second_prune_deletes_nothing(
    session, ingested, subscribers_by_lang, runtime, settings
):
    issue = _sent_issue(session, runtime)
    ko, _ = _with_events(session, issue)
    reader = ko[2].email
    before = _report(session, issue, settings)
    assert before[0]["ko"].clicked == 2 and before[1]["ko"][0] == ("https://news.example.com/a", 2)
    assert before[2]["ko"]["open"][5] == 2
    _age(session, issue, 100)

    dry = run_prune(runtime, dry_run=True)
    assert _rows(session, WebhookEvent, issue) == dry.events == 7 + 7
    assert _rows(session, Delivery, issue) == dry.deliveries == 9
    session.commit()  # a reader's open transaction would hold up a partition's drop
    done = run_prune(runtime)
    assert (done.events, done.deliveries, done.finalized) == (
        dry.events,
        dry.deliveries,
        [issue.id],
    )
    session.expire_all()
    assert _rows(session, WebhookEvent, issue) == 0 and _rows(session, Delivery, issue) == 0

    issue = session.get(Issue, issue.id)
    assert _report(session, issue, settings) == before  # rates, links and chart: all kept
    assert _nothing_of(run_prune(runtime), issue)

    # the reader's export answers from what is kept: the engagement facts, no ledger, no events
    kept = subscriber_report(session, reader)
    assert kept["deliveries"] == [] and kept["events"] == []
    assert kept["last_delivered_at"] and kept["last_engaged_at"] and kept["email"] == reader


def test_an_issue_in_flight_keeps_its_ledger_and_events(
    session, ingested, subscribers_by_lang, runtime, settings
):
    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    start_send(session, issue, settings, utcnow())  # sending: every batch pending
    session.commit()
    _with_events(session, issue)
    _age(session, issue, 100)
    assert _nothing_of(run_prune(runtime), issue)
    assert _rows(session, Delivery, issue) == 9 and _rows(session, WebhookEvent, issue) == 14
    assert session.get(IssueCounts, issue.id) is None  # nothing made final either


def test_a_finished_issue_with_a_batch_unsettled_keeps_its_rows(
    session, ingested, subscribers_by_lang, runtime
):
    issue = _sent_issue(session, runtime)
    _with_events(session, issue)
    batch = session.scalars(select(Batch.id).where(Batch.issue_id == issue.id)).first()
    session.execute(update(Batch).where(Batch.id == batch).values(status=BatchStatus.UNKNOWN))
    session.commit()
    _age(session, issue, 100)
    assert _nothing_of(run_prune(runtime), issue)
    assert _rows(session, Delivery, issue) == 9


def test_events_go_before_the_ledger_and_the_counts_stay_final(
    session, ingested, subscribers_by_lang, runtime, settings
):
    issue = _sent_issue(session, runtime)
    ko, _ = _with_events(session, issue)
    _age(session, issue, 40)  # past the events' 30 days, not the ledger's 90
    done = run_prune(runtime)
    assert (done.events, done.deliveries) == (14, 0) and _rows(session, Delivery, issue) == 9
    export = subscriber_report(session, ko[1].email)  # the ledger row kept, the events gone
    assert [d["issue"] for d in export["deliveries"]] == [issue.number] and export["events"] == []
    # a late open is applied to its reader, but the final counts were counted from rows now gone
    store(session, [_event("open", ko[3], utcnow(), 9)], utcnow())
    _apply(session, utcnow())
    session.commit()
    session.expire_all()
    issue = session.get(Issue, issue.id)
    figs = figures(session, issue, utcnow() + timedelta(days=400), settings)
    assert figs["ko"].opened == 2 and figs["ko"].delivered == 4
    assert refresh_counts(session, issue.id, utcnow()).stats["ko"]["opened"] == 2  # beat's too


def test_engagement_facts_move_forward_only_and_skip_machine_opens(
    session, ingested, subscribers_by_lang, runtime
):
    issue = _sent_issue(session, runtime)
    ko, _ = _deliveries(session, issue)
    now = utcnow().replace(microsecond=0)
    store(
        session,
        [
            _event("delivered", ko[0], now),
            _event("open", ko[0], now + timedelta(hours=2), 1, sg_machine_open=True),
            _event("open", ko[0], now + timedelta(hours=1), 2),
            _event("click", ko[0], now - timedelta(hours=1), 3),  # late and out of order
        ],
        now,
    )
    _apply(session, now)
    session.commit()
    sub = session.scalar(select(Subscriber).where(Subscriber.id == ko[0].subscriber_id))
    assert sub.last_delivered_at == now and sub.last_engaged_at == now + timedelta(hours=1)
    store(session, [_event("open", ko[0], now - timedelta(days=1), 4)], now)
    _apply(session, now)
    session.commit()
    session.refresh(sub)
    assert sub.last_engaged_at == now + timedelta(hours=1)


def test_db_prune_says_what_would_go_then_prunes(session, ingested, subscribers_by_lang, runtime):
    issue = _sent_issue(session, runtime)
    _with_events(session, issue)
    _age(session, issue, 100)
    runner = CliRunner()
    dry = runner.invoke(main, ["db", "prune", "--dry-run"], obj=runtime, catch_exceptions=False)
    assert "webhook_events: 14 rows would be deleted" in dry.stdout
    assert "deliveries: 9 rows would be deleted" in dry.stdout
    assert _rows(session, Delivery, issue) == 9
    done = runner.invoke(main, ["db", "prune"], obj=runtime, catch_exceptions=False)
    assert (
        "webhook_events: 14 rows deleted" in done.stdout
        and "deliveries: 9 rows deleted" in done.stdout
    )
    shown = json.loads(
        runner.invoke(main, ["issue", "show", str(issue.number), "--json"], obj=runtime).stdout
    )
    assert {e["lang"]: e["stats"]["delivered"] for e in shown["editions"]}["ko"] == 4


def test_rows_go_a_chunk_a_transaction(session, ingested, subscribers_by_lang, make_runtime):
    runtime = make_runtime(prune_chunk_rows=3)  # 9 ledger rows, 14 events: several chunks each
    issue = _sent_issue(session, runtime)
    _with_events(session, issue)
    _age(session, issue, 100)
    _into_default_partitions(session, issue)  # PostgreSQL: no partition of its own to drop
    chunks: list[tuple[str, int]] = []
    done = run_prune(runtime, progress=lambda table, n: chunks.append((table, n)))
    assert all(n <= 3 for _, n in chunks) and len(chunks) >= 8
    by_table = {t: sum(n for table, n in chunks if table == t) for t, _ in chunks}
    assert by_table == {"webhook_events": done.events, "deliveries": done.deliveries}
    assert (done.events, done.deliveries) == (14, 9) and _rows(session, WebhookEvent, issue) == 0
