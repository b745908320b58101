"""An issue done with for ledger_compact_days has its ledger and events partitions rewritten full, once,
on PostgreSQL (the ledger was written half full for the updates of its first days, each event written
twice: stored, then marked applied); their rows stay as they were."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from mailer import partitions
from mailer.db import is_postgres
from mailer.delivery.models import Delivery
from mailer.events.models import WebhookEvent
from mailer.events.retention import run_prune
from mailer.events.tasks import run_process_events
from tests.events.test_retention import _age, _sent_issue, _with_events


def _options(session, issue, table=partitions.LEDGER) -> list[str]:
    name = partitions.name(table, issue.id)
    found = session.scalar(
        text("SELECT reloptions FROM pg_class WHERE oid = to_regclass(:n)"), {"n": name}
    )
    return list(found or [])


def _ledger(session, issue) -> list[tuple]:
    return session.execute(
        select(Delivery.id, Delivery.subscriber_id, Delivery.email, Delivery.status)
        .where(Delivery.issue_id == issue.id)
        .order_by(Delivery.id)
    ).all()


def quiet_server(session) -> bool:
    """No other transaction that has written is running, in any database of the server: a row made
    dead after one began cannot be removed (every snapshot taken since counts it as running), so no
    VACUUM gives its room back meanwhile."""
    session.commit()
    return not session.scalar(
        text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
        )
    )


def _events(session, issue) -> list[tuple]:
    return session.execute(
        select(
            WebhookEvent.id,
            WebhookEvent.sg_event_id,
            WebhookEvent.event,
            WebhookEvent.payload,
            WebhookEvent.processed_at.is_not(None),  # applied (_age moves the moment)
        )
        .where(WebhookEvent.issue_id == issue.id)
        .order_by(WebhookEvent.id)
    ).all()


def _size(session, issue, table) -> int:
    name = partitions.name(table, issue.id)
    return session.scalar(text("SELECT pg_total_relation_size(to_regclass(:n))"), {"n": name})


def test_an_issue_done_with_for_a_week_has_its_ledger_partition_rewritten_full_once(
    session, ingested, subscribers_by_lang, runtime
):
    issue = _sent_issue(session, runtime)
    _with_events(session, issue)
    before, events = _ledger(session, issue), _events(session, issue)
    assert events and all(e[-1] for e in events)  # applied: each row written twice
    _age(session, issue, runtime.settings.ledger_compact_days - 1)
    session.commit()
    assert issue.id not in run_prune(runtime).compacted  # its first days: still half full

    _age(session, issue, 2)
    session.commit()
    dry = run_prune(runtime, dry_run=True)
    done = run_prune(runtime)
    session.expire_all()
    assert _ledger(session, issue) == before  # nothing of the ledger went or changed
    assert _events(session, issue) == events  # nor of the events, applied once each
    if not is_postgres(session):
        assert dry.compacted == done.compacted == []
        return
    assert issue.id in dry.compacted and issue.id in done.compacted
    assert any(line.endswith("issues would be compacted") for line in dry.lines(False))
    assert "fillfactor=100" in _options(session, issue)
    assert "fillfactor=100" in _options(session, issue, partitions.EVENTS)
    session.commit()
    assert issue.id not in run_prune(runtime).compacted  # once


def _read_ledger(conn, issue_id: int) -> None:
    """A long read of the issue's ledger: it holds the ledger partition."""
    conn.execute(select(Delivery.id).where(Delivery.issue_id == issue_id)).all()


def _post_event(conn, issue_id: int) -> None:
    """A webhook post into the issue's events, not committed: it holds the events partition."""
    conn.execute(
        text(
            "INSERT INTO webhook_events (sg_event_id, event, payload, issue_id, received_at)"
            " VALUES ('late', 'open', '{}', :i, now())"
        ),
        {"i": issue_id},
    )


@pytest.mark.parametrize(
    "hold, table, as_made",
    [(_read_ledger, partitions.LEDGER, "fillfactor=50"), (_post_event, partitions.EVENTS, None)],
)
def test_a_compaction_that_waits_on_another_gives_way(
    session, ingested, subscribers_by_lang, runtime, hold, table, as_made
):
    issue = _sent_issue(session, runtime)
    _with_events(session, issue)
    _age(session, issue, runtime.settings.ledger_compact_days + 1)
    if not is_postgres(session):
        return
    other = session.get_bind().connect()
    with other.begin():
        hold(other, issue.id)
        assert issue.id not in run_prune(runtime).compacted
    other.close()
    session.commit()
    # as it was made still: the next prune tries again
    options = _options(session, issue, table)
    assert "fillfactor=100" not in options and (as_made is None or as_made in options)
    assert issue.id in run_prune(runtime).compacted
    if hold is _post_event:  # the post went through, and its event is kept
        assert session.scalar(select(WebhookEvent.id).where(WebhookEvent.sg_event_id == "late"))


def test_an_events_partition_is_compacted_to_its_rows_alone(
    session, ingested, subscribers_by_lang, runtime
):
    """Events stored unapplied, then marked applied by the events task: each row written twice, the
    partition twice its rows, until its compaction gives the room back and leaves the events as they were."""
    if not is_postgres(session):
        return
    issue = _sent_issue(session, runtime)
    session.execute(  # as the webhook stores them: not applied yet (machine opens: nothing to move)
        text(
            "INSERT INTO webhook_events (sg_event_id, event, payload, issue_id, received_at)"
            " SELECT 'machine-' || g, 'machine_open', CAST(:payload AS json), :i, now()"
            " FROM generate_series(1, 3000) g"
        ),
        {"i": issue.id, "payload": '{"useragent": "' + "x" * 300 + '"}'},
    )
    session.commit()
    stored = _size(session, issue, partitions.EVENTS)
    assert run_process_events(runtime) == 3000
    grown = _size(session, issue, partitions.EVENTS)
    assert grown > 1.5 * stored
    events = _events(session, issue)
    assert all(e[-1] for e in events)
    _age(session, issue, runtime.settings.ledger_compact_days + 1)
    session.commit()
    quiet = quiet_server(session)
    assert issue.id in run_prune(runtime).compacted
    assert "fillfactor=100" in _options(session, issue, partitions.EVENTS)
    if quiet and quiet_server(session):
        assert _size(session, issue, partitions.EVENTS) < 1.2 * stored
    assert _events(session, issue) == events
