"""Retention by partition: on PostgreSQL an issue whose rows are all due loses its partitions whole, and
rows that are not all due (or that no partition of their own holds) go by chunked DELETE as on SQLite."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import create_engine, func, select, text

from mailer import partitions
from mailer.db import is_postgres, utcnow
from mailer.delivery.models import Delivery
from mailer.events import partition_drop
from mailer.events.models import WebhookEvent
from mailer.events.retention import run_prune
from mailer.events.store import store
from tests.events.test_retention import (
    _age,
    _deliveries,
    _event,
    _into_default_partitions,
    _rows,
    _sent_issue,
    _with_events,
)


def _exists(session, table: str, issue) -> bool:
    name = partitions.name(table, issue.id)
    return session.scalar(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name})


def _of(issue, plan) -> dict[str, list[int]]:
    """The plan's partitions of `issue` (an empty one that an earlier test left may go too)."""
    return {table: [issue.id] for table, issues in plan.partitions.items() if issue.id in issues}


def test_an_issue_past_retention_loses_its_partitions_whole(
    session, ingested, subscribers_by_lang, runtime
):
    issue = _sent_issue(session, runtime)
    _with_events(session, issue)
    postgres = is_postgres(session)
    if postgres:  # made when the send started, before its first row
        assert _exists(session, "deliveries", issue) and _exists(session, "webhook_events", issue)
    _age(session, issue, 100)
    dry = run_prune(runtime, dry_run=True)
    done = run_prune(runtime)

    assert (done.events, done.deliveries) == (dry.events, dry.deliveries) == (14, 9)
    assert _rows(session, WebhookEvent, issue) == 0 and _rows(session, Delivery, issue) == 0
    whole = {"webhook_events": [issue.id], "deliveries": [issue.id]} if postgres else {}
    assert _of(issue, dry) == _of(issue, done) == whole
    if postgres:
        assert not _exists(session, "deliveries", issue)
        assert not _exists(session, "webhook_events", issue)
        assert "deliveries: 1 issue partitions dropped whole" in done.lines(True)
    session.rollback()
    # a late event of the pruned issue is kept all the same: in the default partition
    late = _event(
        "open", SimpleNamespace(email="late@example.com", id=10**9, issue_id=issue.id), utcnow()
    )
    assert store(session, [late], utcnow()).new == 1
    session.commit()
    if postgres:
        in_default = "SELECT count(*) FROM webhook_events_default WHERE issue_id = :id"
        assert session.scalar(text(in_default), {"id": issue.id}) == 1


def test_an_issue_with_a_few_events_not_due_loses_its_partition_and_keeps_them(
    session, ingested, subscribers_by_lang, runtime
):
    """A late event would keep the partition, its file as large as ever, as long as such events come:
    the few not due move to the default partition, and the partition goes whole."""
    issue = _sent_issue(session, runtime)
    ko, _ = _with_events(session, issue)
    _age(session, issue, 100)
    store(session, [_event("open", ko[3], utcnow(), 9)], utcnow())  # today's: not applied yet
    session.commit()
    done = run_prune(runtime)
    whole = {"webhook_events": [issue.id], "deliveries": [issue.id]}
    assert _of(issue, done) == (whole if is_postgres(session) else {})
    assert (done.events, done.deliveries) == (14, 9)
    left = session.scalars(
        select(WebhookEvent.sg_event_id).where(WebhookEvent.issue_id == issue.id)
    )
    assert left.all() == [f"open-{ko[3].id}-9"]
    if is_postgres(session):
        assert not _exists(session, "webhook_events", issue)
        in_default = "SELECT count(*) FROM webhook_events_default WHERE issue_id = :id"
        assert session.scalar(text(in_default), {"id": issue.id}) == 1


def test_an_issue_with_more_events_not_due_keeps_its_events_partition_and_loses_the_rest(
    session, ingested, subscribers_by_lang, runtime, monkeypatch
):
    monkeypatch.setattr(partition_drop, "MOVED_AT_MOST", 0)
    issue = _sent_issue(session, runtime)
    ko, _ = _with_events(session, issue)
    _age(session, issue, 100)
    store(session, [_event("open", ko[3], utcnow(), 9)], utcnow())  # today's: not applied yet
    session.commit()
    done = run_prune(runtime)
    assert _of(issue, done) == ({"deliveries": [issue.id]} if is_postgres(session) else {})
    assert (done.events, done.deliveries) == (14, 9)
    left = session.scalars(
        select(WebhookEvent.sg_event_id).where(WebhookEvent.issue_id == issue.id)
    )
    assert left.all() == [f"open-{ko[3].id}-9"]
    if is_postgres(session):
        assert _exists(session, "webhook_events", issue)


def test_rows_of_an_issue_in_the_default_partitions_go_by_delete(
    session, ingested, subscribers_by_lang, runtime
):
    issue = _sent_issue(session, runtime)
    _with_events(session, issue)
    _age(session, issue, 100)
    _into_default_partitions(session, issue)
    done = run_prune(runtime)
    assert (done.events, done.deliveries, _of(issue, done)) == (14, 9, {})
    assert _rows(session, WebhookEvent, issue) == 0 and _rows(session, Delivery, issue) == 0


def test_a_drop_that_waits_on_a_reader_gives_way_to_deletes(
    session, ingested, subscribers_by_lang, runtime, database_url
):
    issue = _sent_issue(session, runtime)
    _with_events(session, issue)
    _age(session, issue, 100)
    reader = create_engine(database_url).connect()
    try:  # a long report holds the ledger: the drop waits a moment, then deletes
        reader.execute(select(func.count()).select_from(Delivery)).scalar()
        done = run_prune(runtime)
    finally:
        reader.close()
        reader.engine.dispose()
    assert (done.events, done.deliveries) == (14, 9)
    assert "deliveries" not in _of(issue, done)
    assert _rows(session, Delivery, issue) == 0


def test_events_are_stored_once_in_every_partition(session, ingested, subscribers_by_lang, runtime):
    issue = _sent_issue(session, runtime)
    ko, _ = _deliveries(session, issue)
    now = utcnow()
    events = [
        _event("delivered", ko[0], now),  # the issue's partition
        {**_event("delivered", ko[1], now), "issue_id": "999999"},  # no such issue: the default
        {"event": "bounce", "email": "x@example.com", "timestamp": 1, "sg_event_id": "lone-1"},
        {"event": "nothing-valid", "timestamp": "soon"},  # rejected: no issue
    ]
    first = store(session, events, now)
    session.commit()
    again = store(session, events, now)
    session.commit()
    assert (first.new, again.new) == (4, 0)
    if is_postgres(session):
        where = "SELECT count(*) FROM webhook_events_{} WHERE sg_event_id = :id"
        for partition, event_id in (("default", f"delivered-{ko[1].id}-0"), ("none", "lone-1")):
            assert session.scalar(text(where.format(partition)), {"id": event_id}) == 1
