"""/metrics: per-issue series for the issues beat counts, bounded label sets, subscribers, build
info, beat's last tick, the next send; and the example alert rules and Grafana dashboard name only series
that /metrics exports (promtool checks the rules too, when it is on PATH)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import update

from mailer.db import utcnow
from mailer.delivery import counters
from mailer.delivery.facade import send_now
from mailer.issues.models import Edition, Issue
from mailer.web.app import create_app as create_web_app

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "mailer-dashboard.json"
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "counter": ("", "_total", "_created")}


def _scrape(runtime) -> str:
    response = TestClient(create_web_app(runtime)).get("/metrics")
    assert response.status_code == 200
    return response.text


def _exported(text: str) -> set[str]:
    """Every series name a scrape can carry, from its TYPE lines (a family is typed even with no sample yet)."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        names.update(name + suffix for suffix in SUFFIXES.get(kind, ("",)))
    return names


def _named(expr: str) -> set[str]:
    return set(re.findall(r"\bmailer_[a-z_]+\b", expr))


def test_per_issue_series_cover_the_issues_in_flight_or_finished_lately(
    session, issue, subscribers_by_lang, runtime
):
    send_now(runtime, issue.number)
    long_ago = utcnow() - timedelta(days=runtime.settings.stats_refresh_days + 1)
    old = Issue(
        number=issue.number + 100,
        window_start=long_ago,
        window_end=long_ago,
        status="sent",
        started_at=long_ago,
        finished_at=long_ago,
    )
    session.add(old)
    session.commit()
    text = _scrape(runtime)
    n = issue.number
    assert f'mailer_deliveries{{issue="{n}",lang="ko",status="sent"}} 4.0' in text
    assert f'mailer_issue_stats{{issue="{n}",lang="en",stat="sent"}} 3.0' in text
    assert f'mailer_issue_stats{{issue="{n}",lang="ko",stat="complained"}} 0.0' in text
    assert f'mailer_batches{{issue="{n}",status="accepted"}}' in text
    assert f'issue="{old.number}"' not in text  # settled: left out, so the label set stays bounded
    assert 'mailer_subscribers{lang="ko",status="active"} 4.0' in text
    assert re.search(
        r'^mailer_build_info\{python="[\d.]+",version="0\.1\.0"\} 1\.0$', text, re.MULTILINE
    )


def test_the_next_scheduled_send(session, issue, runtime, settings):
    from mailer.issues import scheduling

    assert "\nmailer_next_send_timestamp_seconds " not in _scrape(runtime)
    at = (utcnow() + timedelta(hours=3)).replace(microsecond=0)
    scheduling.schedule(
        session, issue, ("ko", "en", "both"), at, utcnow(), settings, approved_by="an admin"
    )
    session.commit()
    session.execute(
        update(Edition)
        .where(Edition.issue_id == issue.id, Edition.lang == "en")
        .values(send_at=at + timedelta(hours=1))
    )
    session.commit()
    [due] = re.findall(
        r"^mailer_next_send_timestamp_seconds (\S+)$", _scrape(runtime), re.MULTILINE
    )
    assert float(due) == at.timestamp()  # the earliest edition's time


def test_webhook_event_types_are_a_bounded_set(runtime):
    counters.record_events(runtime.kv, Counter({"delivered": 2, "x" * 40: 1, "made-up": 1}))
    text = _scrape(runtime)
    assert 'mailer_webhook_events_total{event="delivered"} 2.0' in text
    assert 'mailer_webhook_events_total{event="other"} 2.0' in text and "made-up" not in text


def test_unacked_is_not_a_queue_and_beat_stamps_its_ticks(make_runtime, monkeypatch, redis_url):
    import redis

    from mailer.celery_app import BEAT_TICK_KEY, _beat_ticked, app

    redis.Redis.from_url(redis_url).delete(BEAT_TICK_KEY)
    runtime = make_runtime(broker_url=redis_url)
    monkeypatch.setitem(app.conf, "broker_url", redis_url)  # beat's app, as wiring configures it
    assert "\nmailer_beat_last_tick_timestamp_seconds " not in _scrape(runtime)
    _beat_ticked()  # what beat's before_task_publish does each time it publishes
    text = _scrape(runtime)
    assert 'queue="unacked"' not in text and re.search(
        r"^mailer_tasks_unacked \d", text, re.MULTILINE
    )
    assert 'mailer_queue_depth{queue="send"}' in text
    [tick] = re.findall(r"^mailer_beat_last_tick_timestamp_seconds (\S+)$", text, re.MULTILINE)
    assert abs(float(tick) - utcnow().timestamp()) < 600


def test_the_example_alerts_load_and_name_only_exported_series(runtime):
    rules = yaml.safe_load(ALERTS.read_text())
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    for name in (
        "MailerComplaintRateHigh",
        "MailerBounceRateHigh",
        "MailerSendQueueNotDraining",
        "MailerBeatSilent",
        "MailerBrokerDown",
    ):
        assert name in alerts
    assert (
        "> 0.001" in alerts["MailerComplaintRateHigh"]["expr"]
        and "> 0.02" in alerts["MailerBounceRateHigh"]["expr"]
    )
    exported = _exported(_scrape(runtime))
    for rule in alerts.values():
        assert set(rule) >= {"expr", "for", "labels", "annotations"}
        assert _named(rule["expr"]) and _named(rule["expr"]) <= exported, rule["alert"]


def test_promtool_accepts_the_example_alerts():
    if not shutil.which("promtool"):
        if os.environ.get("CI"):
            pytest.fail("no promtool on PATH: .ci/run installs Debian's prometheus")
        pytest.skip("no promtool on PATH (Prometheus' own checker)")
    checked = subprocess.run(
        ["promtool", "check", "rules", str(ALERTS)], check=False, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_grafana_dashboard_loads_and_names_only_exported_series(runtime):
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"]
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    exprs += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    exported = _exported(_scrape(runtime))
    named = set().union(*(_named(e) for e in exprs))
    assert named <= exported, named - exported
    for wanted in (
        "mailer_issue_recipients",
        "mailer_issue_stats",
        "mailer_subscribers",
        "mailer_broker_up",
        "mailer_beat_last_tick_timestamp_seconds",
        "mailer_next_send_timestamp_seconds",
    ):
        assert wanted in named


def test_every_alert_links_its_runbook_section():
    """An alert that fires points ops at what to do: its runbook_url names a heading of
    docs/operations.md (GitHub's anchor: the heading in lower case)."""
    rules = yaml.safe_load(ALERTS.read_text())
    runbook = (ROOT / "docs" / "operations.md").read_text()
    anchors = {h.lower() for h in re.findall(r"^#+ (\S+)$", runbook, re.MULTILINE)}
    for rule in (rule for group in rules["groups"] for rule in group["rules"]):
        path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert path == "docs/operations.md" and anchor == rule["alert"].lower(), rule["alert"]
        assert anchor in anchors, rule["alert"]


def test_each_issue_status_and_a_pause_by_the_system_are_series(session, issue, runtime):
    from mailer.issues import reasons

    n = issue.number
    other = Issue(
        number=n + 1,
        window_start=issue.window_start,
        window_end=issue.window_end,
        status="paused",
        status_reason=reasons.credentials_refused(n + 1, "401"),
        started_at=utcnow(),
    )
    issue.status, issue.started_at, issue.finished_at = "failed", utcnow(), utcnow()
    session.add(other)
    session.commit()
    text = _scrape(runtime)
    assert f'mailer_issue_status{{issue="{n}",status="failed"}} 1.0' in text
    assert f'mailer_issue_status{{issue="{n}",status="sent"}} 0.0' in text
    assert f'mailer_issue_status{{issue="{n + 1}",status="paused"}} 1.0' in text
    assert f'mailer_issue_paused_by_system{{issue="{n + 1}"}} 1.0' in text
    assert f'mailer_issue_paused_by_system{{issue="{n}"}} 0.0' in text
    other.status_reason = reasons.paused("an editor")  # an editor's pause pages nobody
    session.commit()
    assert f'mailer_issue_paused_by_system{{issue="{n + 1}"}} 0.0' in _scrape(runtime)


def test_workers_on_send_are_counted_only_while_an_issue_is_sending(
    session, issue, make_runtime, redis_url
):
    runtime = make_runtime(broker_url=redis_url)
    assert not re.search(r"^mailer_send_workers ", _scrape(runtime), re.MULTILINE)
    issue.status, issue.started_at = "sending", utcnow()
    session.commit()
    # no worker runs in the tests: the broadcast finds none
    assert re.search(r"^mailer_send_workers 0\.0$", _scrape(runtime), re.MULTILINE)


def test_every_panel_says_what_it_shows_and_broker_up_reads_as_words():
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert all(p.get("description", "").strip() for p in panels), [
        p["title"] for p in panels if not p.get("description")
    ]
    [broker] = [p for p in panels if p["title"] == "Broker up"]
    defaults = broker["fieldConfig"]["defaults"]
    [mapping] = defaults["mappings"]
    shown = {k: (v["text"], v["color"]) for k, v in mapping["options"].items()}
    assert shown == {"0": ("down", "red"), "1": ("up", "green")}
    steps = [(s["color"], s["value"]) for s in defaults["thresholds"]["steps"]]
    assert steps == [("red", None), ("green", 1)]


def test_readiness_is_a_series_with_what_answers(runtime):
    text = _scrape(runtime)
    assert re.search(r"^mailer_ready 1\.0$", text, re.MULTILINE)
    assert re.search(r'^mailer_dependency_up\{dependency="database"\} 1\.0$', text, re.MULTILINE)


def test_a_scrape_without_the_database_says_not_ready(make_runtime, tmp_path, redis_url):
    gone = make_runtime(
        database_url=f"sqlite:///{tmp_path}/no/such/dir/mailer.db", broker_url=redis_url
    )
    ready = TestClient(create_web_app(gone)).get("/readyz")
    assert ready.status_code == 503 and ready.json()["database"].startswith("error: ")
    text = _scrape(gone)  # answers all the same, with what it can tell
    assert re.search(r"^mailer_ready 0\.0$", text, re.MULTILINE)
    assert re.search(r'^mailer_dependency_up\{dependency="database"\} 0\.0$', text, re.MULTILINE)
    assert re.search(r'^mailer_dependency_up\{dependency="broker"\} 1\.0$', text, re.MULTILINE)
    assert re.search(r"^mailer_broker_up 1\.0$", text, re.MULTILINE)


def test_the_readiness_panel_reads_as_words():
    panels = json.loads(DASHBOARD.read_text())["panels"]
    [ready] = [p for p in panels if p["title"] == "Ready (/readyz)"]
    assert "MailerNotReady" in ready["description"]
    [mapping] = ready["fieldConfig"]["defaults"]["mappings"]
    shown = {k: (v["text"], v["color"]) for k, v in mapping["options"].items()}
    assert shown == {"0": ("not ready", "red"), "1": ("ready", "green")}


def test_the_list_is_counted_by_beat_not_at_each_scrape_and_view(runtime, session):
    from mailer.events.tasks import run_refresh_issue_counts
    from subscribers import service
    from subscribers.lookup import COUNTS_KEY

    for i in range(2):
        service.add(session, f"early{i}@example.com", "ko", confirmed=True)
    session.commit()
    run_refresh_issue_counts(runtime)  # beat, each minute
    service.add(session, "later@example.com", "ko", confirmed=True)
    session.commit()
    # until beat counts again (or its figures age past twice its interval) the scrape shows beat's
    assert 'mailer_subscribers{lang="ko",status="active"} 2.0' in _scrape(runtime)
    runtime.kv.delete(COUNTS_KEY)
    assert 'mailer_subscribers{lang="ko",status="active"} 3.0' in _scrape(runtime)
    assert json.loads(runtime.kv.get(COUNTS_KEY)) == [["ko", "active", 3]]
