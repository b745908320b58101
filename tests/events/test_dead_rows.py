"""PostgreSQL: marking stored events applied writes each row again; the events task vacuums a partition
it left dead rows enough in, so that the issue's next events fill that room instead of growing it."""

from __future__ import annotations

from sqlalchemy import select, text

from mailer import partitions
from mailer.db import is_postgres
from mailer.events import dead_rows
from mailer.events.models import WebhookEvent
from mailer.events.tasks import run_process_events
from tests.events.test_compact import quiet_server
from tests.events.test_retention import _sent_issue


def _store(session, issue, first: int, n: int) -> None:
    """`n` events of the issue as the webhook stores them, not applied yet (machine opens of no
    delivery: applying them only marks them), then the statistics told at once."""
    session.execute(
        text(
            "INSERT INTO webhook_events (sg_event_id, event, payload, issue_id, received_at)"
            " SELECT 'machine-' || g, 'machine_open', CAST(:payload AS json), :i, now()"
            " FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) g"
        ),
        {
            "i": issue.id,
            "first": first,
            "last": first + n - 1,
            "payload": '{"ua": "' + "x" * 300 + '"}',
        },
    )
    session.commit()


def _flush_statistics(session) -> None:
    # this backend's counts reach the statistics when it goes idle, not up to a second later
    session.execute(text("SELECT pg_stat_force_next_flush()"))
    session.commit()


def _heap(session, issue) -> int:
    name = partitions.name(partitions.EVENTS, issue.id)
    return session.scalar(text("SELECT pg_relation_size(to_regclass(:n))"), {"n": name})


def test_the_events_task_vacuums_a_partition_its_marking_left_dead_rows_in(
    session, ingested, subscribers_by_lang, runtime, monkeypatch
):
    issue = _sent_issue(session, runtime)
    if not is_postgres(session):
        assert dead_rows.vacuum_dead(runtime) == []
        return
    monkeypatch.setattr(dead_rows, "DEAD_LEAST", 100)
    name = partitions.name(partitions.EVENTS, issue.id)
    _store(session, issue, 1, 2000)
    quiet = quiet_server(session)
    session.execute(  # marked as the events task marks them, this backend's counts told at once
        text(f"UPDATE {name} SET processed_at = now() WHERE processed_at IS NULL")
    )
    _flush_statistics(session)
    assert name in dead_rows.vacuum_dead(runtime)
    grown = _heap(session, issue)
    _store(session, issue, 2001, 1000)
    if quiet and quiet_server(
        session
    ):  # the dead rows were removed: the next events fill their room
        assert _heap(session, issue) == grown
    assert run_process_events(runtime) == 1000  # and every one is applied once
    assert (
        session.scalar(
            select(WebhookEvent.id).where(
                WebhookEvent.issue_id == issue.id, WebhookEvent.processed_at.is_(None)
            )
        )
        is None
    )


def test_the_subscribers_table_is_vacuumed_once_its_engagement_updates_left_dead_rows(
    session, ingested, subscribers_by_lang, runtime, monkeypatch
):
    if not is_postgres(session):
        return
    monkeypatch.setattr(dead_rows, "DEAD_LEAST", 1)
    # as applying a delivered event moves the reader's fact: each row written again
    session.execute(text("UPDATE subscribers SET last_delivered_at = now()"))
    _flush_statistics(session)
    assert "subscribers" in dead_rows.vacuum_dead(runtime)
