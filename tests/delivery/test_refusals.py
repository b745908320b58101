"""CAN-SPAM in production: `issue send`, `issue schedule` and beat refuse to send without
MAILER_POSTAL_ADDRESS, with one line that names the setting."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from mailer.cli import main
from mailer.db import utcnow
from mailer.delivery import facade
from mailer.issues.service import draft_issue

REASON = "MAILER_POSTAL_ADDRESS is not set: production sends no email without the sender's postal address"


@pytest.fixture
def production(make_runtime, session, ingested, subscribers_by_lang, settings):
    draft_issue(session, utcnow(), settings)
    session.commit()
    return make_runtime(env="production", secret_key=SecretStr("p" * 40), postal_address="")


def test_issue_send_and_issue_schedule_refuse_in_one_line(production):
    runner = CliRunner()
    for args in (["issue", "send", "1"], ["issue", "schedule", "1", "--at", "2099-01-04T07:00"]):
        result = runner.invoke(main, args, obj=production)
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines() == [f"error: {REASON}"]
    assert list(Path(production.settings.outbox_dir).glob("issue-1/*/*.eml")) == []


def test_beat_sends_nothing_and_says_why(production, session, caplog, settings):
    from datetime import timedelta

    from mailer.issues import scheduling
    from mailer.issues.service import get_issue

    issue = get_issue(session, 1)  # scheduled while the address was still set, say
    scheduling.schedule(
        session,
        issue,
        ("ko",),
        utcnow() + timedelta(minutes=1),
        utcnow(),
        settings,
        approved_by="an admin",
    )
    next(e for e in issue.editions if e.lang == "ko").send_at = utcnow() - timedelta(
        minutes=1
    )  # now due
    session.commit()
    with caplog.at_level(logging.ERROR, logger="mailer.delivery.facade"):
        assert facade.send_due(production) == []
    assert [r.getMessage() for r in caplog.records] == [f"beat sends nothing: {REASON}"]


def test_with_the_address_set_production_sends(production, make_runtime):
    address = "110 Sejong-daero, Jung-gu, Seoul 04524"
    runtime = make_runtime(env="production", secret_key=SecretStr("p" * 40), postal_address=address)
    assert facade.send_now(runtime, 1)
