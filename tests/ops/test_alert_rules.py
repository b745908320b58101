"""The example alert rules, run by Prometheus' own `promtool test rules`: fed series, each alert fires
when it should, with the labels and annotations a person reads, and stays quiet when it should not."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"

# (alert, input series {series: values}, minutes, expected alerts as (labels, $value) or [] for quiet)
CASES = [
    (
        "MailerComplaintRateHigh",
        {
            'mailer_issue_stats{issue="7",stat="sent"}': "10000x30",
            'mailer_issue_stats{issue="7",stat="complained"}': "20x30",
            'mailer_issue_stats{issue="8",stat="sent"}': "10000x30",
            'mailer_issue_stats{issue="8",stat="complained"}': "5x30",
        },
        20,
        [({"issue": "7"}, 0.002)],
    ),
    (
        "MailerComplaintRateHigh",  # above the line, but not yet for 15 minutes
        {
            'mailer_issue_stats{issue="7",stat="sent"}': "10000x30",
            'mailer_issue_stats{issue="7",stat="complained"}': "0x10 20x20",
        },
        20,
        [],
    ),
    (
        "MailerBounceRateHigh",
        {
            'mailer_issue_stats{issue="3",stat="sent"}': "1000x30",
            'mailer_issue_stats{issue="3",stat="bounced"}': "50x30",
        },
        20,
        [({"issue": "3"}, 0.05)],
    ),
    (
        "MailerBounceRateHigh",
        {
            'mailer_issue_stats{issue="3",stat="sent"}': "1000x30",
            'mailer_issue_stats{issue="3",stat="bounced"}': "10x30",
        },
        20,
        [],
    ),
    (
        "MailerSendQueueNotDraining",
        {'mailer_queue_depth{queue="send"}': "40x30"},
        25,
        [({"queue": "send"}, 40)],
    ),
    (  # a queue that drains, however deep, pages nobody
        "MailerSendQueueNotDraining",
        {'mailer_queue_depth{queue="send"}': "3000-100x30"},
        25,
        [],
    ),
    (
        "MailerIssueStalled",
        {'mailer_issue_stalled{issue="5"}': "0 0 1x10"},
        6,
        [({"issue": "5"}, 1)],
    ),
    ("MailerIssueStalled", {'mailer_issue_stalled{issue="5"}': "0 0 1 0x10"}, 6, []),
    ("MailerBrokerDown", {"mailer_broker_up": "1 1 0x10"}, 6, [({}, 0)]),
    ("MailerBrokerDown", {"mailer_broker_up": "1 0 1x10"}, 6, []),
    ("MailerBatchesUnknown", {'mailer_batches{status="unknown"}': "2x50"}, 40, [({}, 2)]),
    ("MailerBatchesUnknown", {'mailer_batches{status="unknown"}': "2x20 0x30"}, 40, []),
    (
        "MailerTransactionalMailWaiting",
        {'mailer_outbox_mails{status="pending"}': "4x30"},
        20,
        [({"status": "pending"}, 4)],
    ),
    (
        "MailerTransactionalMailWaiting",
        {'mailer_outbox_mails{status="pending"}': "4x5 0x30"},
        20,
        [],
    ),
    (
        "MailerIssuePausedBySystem",
        {'mailer_issue_paused_by_system{issue="9"}': "0 1x10"},
        5,
        [({"issue": "9"}, 1)],
    ),
    ("MailerIssuePausedBySystem", {'mailer_issue_paused_by_system{issue="9"}': "0x10"}, 5, []),
    (
        "MailerIssueFailed",
        {
            'mailer_issue_status{issue="4",status="failed"}': "0 1x10",
            'mailer_issue_status{issue="5",status="failed"}': "0x10",
        },
        5,
        [({"issue": "4"}, 1)],
    ),
    ("MailerIssueFailed", {'mailer_issue_status{issue="4",status="failed"}': "0x10"}, 5, []),
    (
        "MailerNoSendWorker",
        {
            "mailer_send_workers": "0x10",
            'mailer_issue_status{issue="6",status="sending"}': "1x10",
        },
        6,
        [({}, 0)],
    ),
    (  # no issue sending: nobody needs a worker on send
        "MailerNoSendWorker",
        {
            "mailer_send_workers": "0x10",
            'mailer_issue_status{issue="6",status="sending"}': "0x10",
        },
        6,
        [],
    ),
    (
        "MailerNoSendWorker",
        {
            "mailer_send_workers": "2x10",
            'mailer_issue_status{issue="6",status="sending"}': "1x10",
        },
        6,
        [],
    ),
    (  # 60 of every 1000 answers a minute are 5xx or lost: 6%
        "MailerProviderErrors",
        {
            'mailer_sendgrid_responses_total{status="202"}': "0+940x40",
            'mailer_sendgrid_responses_total{status="500"}': "0+40x40",
            'mailer_sendgrid_responses_total{status="lost"}': "0+20x40",
        },
        30,
        [({}, 0.06)],
    ),
    (  # 2%: retries absorb it
        "MailerProviderErrors",
        {
            'mailer_sendgrid_responses_total{status="202"}': "0+980x40",
            'mailer_sendgrid_responses_total{status="503"}': "0+20x40",
        },
        30,
        [],
    ),
    (  # the database stopped answering the web app for three minutes
        "MailerNotReady",
        {
            'mailer_ready{instance="web-1"}': "1 1 0x10",
            'mailer_ready{instance="web-2"}': "1x12",
        },
        6,
        [({}, 0)],
    ),
    (  # a one-minute blip answers again before `for:` runs out
        "MailerNotReady",
        {'mailer_ready{instance="web-1"}': "1 1 0 1x10"},
        6,
        [],
    ),
]


def _value(value: float) -> str:
    return f"{value:g}"


def _render(template: str, labels: dict, value: float) -> str:
    """The annotation as Prometheus renders it, for the few template forms the rules use."""
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], template)
    text = text.replace("{{ $value | humanizePercentage }}", f"{float(f'{value * 100:.4g}'):g}%")
    return text.replace("{{ $value }}", _value(value))


def _test_file(tmp_path: Path) -> Path:
    rules = {
        r["alert"]: r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]
    }
    tests = []
    for alert, series, minutes, expected in CASES:
        rule = rules[alert]
        tests.append(
            {
                "name": f"{alert} at {minutes}m",
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series.items()],
                "alert_rule_test": [
                    {
                        "eval_time": f"{minutes}m",
                        "alertname": alert,
                        "exp_alerts": [
                            {
                                "exp_labels": {**rule["labels"], **labels},
                                "exp_annotations": {
                                    k: _render(v, labels, value)
                                    for k, v in rule["annotations"].items()
                                },
                            }
                            for labels, value in expected
                        ],
                    }
                ],
            }
        )
    path = tmp_path / "alerts_test.yml"
    path.write_text(yaml.safe_dump({"rule_files": [str(ALERTS)], "tests": tests}))
    return path


def test_every_rule_has_a_case_that_fires_and_one_that_stays_quiet():
    names = {r["alert"] for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]}
    fires = {alert for alert, _, _, expected in CASES if expected}
    quiet = {alert for alert, _, _, expected in CASES if not expected}
    # Beat's silence is `time() - last tick`: promtool's clock starts at 0, so it is checked live.
    assert names - {"MailerBeatSilent"} <= fires & quiet, names - (fires & quiet)


def test_every_rule_says_what_it_means_and_where_its_runbook_is():
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule


def test_promtool_fires_and_silences_each_alert_as_the_cases_say(tmp_path):
    if not shutil.which("promtool"):
        if os.environ.get("CI"):
            pytest.fail("no promtool on PATH: .ci/run installs Debian's prometheus")
        pytest.skip("no promtool on PATH (Prometheus' own checker)")
    run = subprocess.run(
        ["promtool", "test", "rules", str(_test_file(tmp_path))],
        check=False,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
