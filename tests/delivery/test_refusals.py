"""CAN-SPAM in production: `issue send`, `issue schedule` and beat refuse to send without
MAILER_POSTAL_ADDRESS, with one line that names the setting."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailer.cli import main
from mailer.config import get_settings
from mailer.db import utcnow
from mailer.delivery import facade
from mailer.issues.service import draft_issue

REASON = "MAILER_POSTAL_ADDRESS is not set: production sends no email without the sender's postal address"


@pytest.fixture
def production(monkeypatch, session, ingested, subscribers_by_lang):
    draft_issue(session, utcnow())
    session.commit()
    monkeypatch.setenv("MAILER_ENV", "production")
    monkeypatch.setenv("MAILER_SECRET_KEY", "p" * 40)
    monkeypatch.delenv("MAILER_POSTAL_ADDRESS", raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_issue_send_and_issue_schedule_refuse_in_one_line(production):
    runner = CliRunner()
    for args in (["issue", "send", "1"], ["issue", "schedule", "1", "--at", "2099-01-04T07:00"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines() == [f"error: {REASON}"]
    assert list(Path(production.outbox_dir).glob("issue-1/*/*.eml")) == []


def test_beat_sends_nothing_and_says_why(production, session, caplog, monkeypatch):
    from datetime import timedelta

    from mailer.issues import scheduling
    from mailer.issues.service import get_issue

    monkeypatch.setenv("MAILER_ENV", "test")  # scheduled while the address was still set, say
    get_settings.cache_clear()
    issue = get_issue(session, 1)
    scheduling.schedule(session, issue, ("ko",), utcnow() + timedelta(minutes=1), utcnow())
    next(e for e in issue.editions if e.lang == "ko").send_at = utcnow() - timedelta(
        minutes=1
    )  # now due
    session.commit()
    monkeypatch.setenv("MAILER_ENV", "production")
    get_settings.cache_clear()
    with caplog.at_level(logging.ERROR, logger="mailer.delivery.facade"):
        assert facade.send_due(get_settings()) == []
    assert [r.getMessage() for r in caplog.records] == [f"beat sends nothing: {REASON}"]


def test_with_the_address_set_production_sends(production, monkeypatch):
    monkeypatch.setenv("MAILER_POSTAL_ADDRESS", "110 Sejong-daero, Jung-gu, Seoul 04524")
    get_settings.cache_clear()
    assert facade.send_now(1, get_settings())
