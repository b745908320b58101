"""Counters workers add to Redis and /metrics exports: moved into the database at each scrape and
sweep, so a Redis restart that empties it takes no exported total back down."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from mailer.delivery import counters
from mailer.delivery.models import MetricCount
from mailer.delivery.tasks import run_sweep_batches
from mailer.kv import MemoryStore
from mailer.web.app import create_app as create_web_app

SERIES = (
    'mailer_sendgrid_responses_total{status="202"}',
    'mailer_webhook_events_total{event="delivered"}',
    "mailer_batch_send_seconds_count",
    "mailer_batch_send_seconds_sum",
)


def _values(runtime) -> dict[str, float]:
    response = TestClient(create_web_app(runtime)).get("/metrics")
    assert response.status_code == 200
    found = {}
    for name in SERIES:
        match = re.search(rf"^{re.escape(name)} (\S+)$", response.text, re.MULTILINE)
        found[name] = float(match.group(1)) if match else 0.0
    return found


def _count_some(store, batches: int) -> None:
    for _ in range(batches):
        counters.record_batch(store, "202", 0.2)
    counters.record_events(store, Counter({"delivered": batches * 10}))


def test_exported_counters_do_not_go_down_when_redis_restarts_empty(make_runtime, private_redis):
    runtime = make_runtime(broker_url=private_redis.url)
    _count_some(runtime.kv, 3)
    before = _values(runtime)
    assert before[SERIES[0]] == 3 and before[SERIES[1]] == 30 and before[SERIES[2]] == 3

    private_redis.stop()  # keeps nothing on disk: it comes back empty
    private_redis.start()
    assert counters.read(runtime.kv) == {}
    after_restart = _values(runtime)
    assert all(after_restart[name] >= before[name] for name in SERIES), after_restart

    _count_some(runtime.kv, 2)
    later = _values(runtime)
    assert later[SERIES[0]] == 5 and later[SERIES[1]] == 50 and later[SERIES[2]] == 5
    assert abs(later[SERIES[3]] - 1.0) < 1e-9


def test_a_sweep_moves_the_counts_into_the_database_so_nobody_has_to_scrape(
    make_runtime, private_redis, session
):
    runtime = make_runtime(broker_url=private_redis.url)
    _count_some(runtime.kv, 4)
    run_sweep_batches(runtime)
    assert counters.read(runtime.kv) == {}  # nothing left in Redis to lose
    with runtime.session() as s:
        assert counters.totals(s)["responses:202"] == 4


def test_a_fold_adds_to_the_totals_and_leaves_the_store_empty(runtime):
    store = MemoryStore()
    with runtime.session() as s:
        counters.record_response(store, "500")
        assert counters.fold(store, s) == {"responses:500": 1}
        counters.record_response(store, "500")
        counters.record_response(store, "lost")
        assert counters.fold(store, s) == {"responses:500": 2, "responses:lost": 1}
        assert counters.read(store) == {}
        assert s.get(MetricCount, "responses:500").value == 2


def test_a_fold_the_database_refuses_gives_the_counts_back_to_the_store(tmp_path):
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    store = MemoryStore()
    counters.record_response(store, "202")
    tableless = Session(create_engine(f"sqlite:///{tmp_path / 'empty.db'}"))  # no metric_counts
    with pytest.raises(OperationalError):
        counters.fold(store, tableless)
    assert counters.read(store) == {"responses:202": 1}  # kept for the next fold
