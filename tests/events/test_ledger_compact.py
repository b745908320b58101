"""An issue done with for ledger_compact_days has its ledger partition rewritten full, once, on
PostgreSQL (it was written half full for the updates of its first days); its rows stay as they were."""

from __future__ import annotations

from sqlalchemy import select, text

from mailer import partitions
from mailer.db import is_postgres
from mailer.delivery.models import Delivery
from mailer.events.retention import run_prune
from tests.events.test_retention import _age, _sent_issue, _with_events


def _options(session, issue) -> list[str]:
    name = partitions.name(partitions.LEDGER, issue.id)
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


def test_an_issue_done_with_for_a_week_has_its_ledger_partition_rewritten_full_once(
    session, ingested, subscribers_by_lang, runtime
):
    issue = _sent_issue(session, runtime)
    _with_events(session, issue)
    before = _ledger(session, issue)
    _age(session, issue, runtime.settings.ledger_compact_days - 1)
    session.commit()
    assert issue.id not in run_prune(runtime).compacted  # its first days: still half full

    _age(session, issue, 2)
    session.commit()
    dry = run_prune(runtime, dry_run=True)
    done = run_prune(runtime)
    session.expire_all()
    assert _ledger(session, issue) == before  # nothing of the ledger went or changed
    if not is_postgres(session):
        assert dry.compacted == done.compacted == []
        return
    assert issue.id in dry.compacted and issue.id in done.compacted
    assert any(line.endswith("issue partitions would be compacted") for line in dry.lines(False))
    assert "fillfactor=100" in _options(session, issue)
    session.commit()
    assert issue.id not in run_prune(runtime).compacted  # once


def test_a_compaction_that_waits_on_a_reader_gives_way(
    session, ingested, subscribers_by_lang, runtime
):
    issue = _sent_issue(session, runtime)
    _with_events(session, issue)
    _age(session, issue, runtime.settings.ledger_compact_days + 1)
    if not is_postgres(session):
        return
    reader = session.get_bind().connect()  # a long read of the ledger holds the partition
    with reader.begin():
        reader.execute(select(Delivery.id).where(Delivery.issue_id == issue.id)).all()
        done = run_prune(runtime)
        assert issue.id not in done.compacted
    reader.close()
    session.commit()
    # half full still: the next prune tries again
    assert "fillfactor=50" in _options(session, issue)
    assert issue.id in run_prune(runtime).compacted
