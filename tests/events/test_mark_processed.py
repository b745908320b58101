"""Applying events stamps them processed issue by issue: on PostgreSQL each statement reads the one
partition of the events its issue lives in (or the partition of events of no issue), never every
partition's index by id."""

from __future__ import annotations

import re
from types import SimpleNamespace

from sqlalchemy import event as sa_event
from sqlalchemy import select

from mailer.db import is_postgres, utcnow
from mailer.events.apply import apply_pending
from mailer.events.models import WebhookEvent
from mailer.events.store import store
from tests.events.test_retention import _deliveries, _event, _sent_issue

PARTITION = re.compile(r"\b(webhook_events_(?:p\d+|default|none))\b")


def _marking_statements(session, run) -> list[tuple[str, object]]:
    """The UPDATEs of webhook_events that `run()` sends, with their parameters."""
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE WEBHOOK_EVENTS"):
            seen.append((statement, parameters))

    engine = session.get_bind().engine
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)
    return seen


def test_events_are_stamped_processed_by_issue_and_each_statement_reads_one_partition(
    session, ingested, subscribers_by_lang, runtime, settings
):
    issue = _sent_issue(session, runtime)
    ko, en = _deliveries(session, issue)
    now = utcnow()
    stranger = SimpleNamespace(email="stranger@example.com", id=10**9, issue_id=2**31 - 2)
    events = [_event("delivered", d, now) for d in ko + en]
    events.append(_event("open", stranger, now))  # an issue we do not hold: the default partition
    events.append({**_event("delivered", en[0], now, 9), "issue_id": None, "delivery_id": None})
    store(session, events, now)
    session.commit()

    applied: list[int] = []
    statements = _marking_statements(
        session, lambda: applied.append(apply_pending(session, now, settings))
    )
    session.commit()

    assert applied == [len(events)]
    session.expire_all()
    stamped = session.execute(select(WebhookEvent.issue_id, WebhookEvent.processed_at)).all()
    assert len(stamped) == len(events) and all(at == now for _, at in stamped)
    assert apply_pending(session, now, settings) == 0
    # one statement per issue (this issue, the unknown one, none), each naming its issue
    assert len(statements) == 3
    assert all("issue_id" in sql for sql, _ in statements)
    if not is_postgres(session):
        return
    expected = [
        {"webhook_events_none"},
        {f"webhook_events_p{issue.id}"},
        {"webhook_events_default"},
    ]
    raw = session.connection().connection.driver_connection
    read = []
    for sql, parameters in statements:
        with raw.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, parameters)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        read.append(set(PARTITION.findall(plan)))
    assert read == expected
