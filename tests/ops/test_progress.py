"""Progress tells sent, cancelled, failed and suppressed apart, and an issue with an edition
left without a send time reads as partly sent, wherever progress is shown."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from mailer.cli import main
from mailer.db import utcnow
from mailer.delivery import batches, lifecycle
from mailer.delivery.models import Batch, Delivery
from mailer.delivery.stats import PARTLY_SENT, progress
from mailer.issues import scheduling
from mailer.kv import MemoryStore
from mailer.mail.senders import OutboxSender, SendError
from mailer.ops.status import as_text, issues_in_flight
from mailer.web.app import create_app as create_web_app
from subscribers import service as subscribers
from tests.factories import start_send


@pytest.fixture
def two_to_a_batch(settings, monkeypatch):
    """Batches of two recipients (the issue's readers make several)."""
    monkeypatch.setattr(settings, "batch_size", 2)


pytestmark = pytest.mark.usefixtures("subscribers_by_lang", "two_to_a_batch")


def _ko_batches(session, issue) -> list[Batch]:
    return list(
        session.scalars(
            select(Batch)
            .join(Delivery, Delivery.batch_id == Batch.id)
            .where(Batch.issue_id == issue.id, Delivery.email.like("ko%"))
            .distinct()
            .order_by(Batch.id)
        )
    )


class Refusing:
    """Refuses every request for good, as a provider refusing the content would."""

    def send(self, batch):
        raise SendError("400 from provider: content refused", kind=SendError.PERMANENT)


def test_a_cancel_a_failure_and_a_suppression_are_not_counted_as_sent(
    session, issue, make_runtime, settings, runtime
):

    start_send(session, issue, settings, utcnow())
    session.commit()
    ko1, ko2 = _ko_batches(session, issue)  # ko0 ko1 | ko2 ko3
    subscribers.unsubscribe(session, subscribers.get_by_email(session, "ko0@example.com").id)
    session.commit()
    outbox = OutboxSender(settings.outbox_dir)
    assert (
        batches.send_batch(
            session, ko1.id, sender=outbox, settings=settings, store=MemoryStore()
        ).status
        == "accepted"
    )
    assert (
        batches.send_batch(
            session, ko2.id, sender=Refusing(), settings=settings, store=MemoryStore()
        ).status
        == "failed"
    )

    during = progress(session, issue)
    assert (during.sent, during.suppressed, during.failed, during.cancelled) == (1, 1, 2, 0)
    assert (during.done, during.total, during.waiting) == (4, 9, 5)
    [row] = issues_in_flight(session, utcnow(), settings)  # ops status
    assert (row["sent"], row["failed"], row["suppressed"], row["waiting"], row["done"]) == (
        1,
        2,
        1,
        5,
        4,
    )
    assert "4/9 recipients: 1/9 sent (failed 2, suppressed 1, waiting 5)" in "\n".join(
        as_text(
            {
                "broker": {"status": "none"},
                "queues": None,
                "workers": None,
                "issues": [row],
                "batches": {"unknown": 0, "retrying": 0, "lease_expired": 0},
                "failures": [],
            }
        )
    )
    scrape = TestClient(create_web_app(make_runtime(batch_size=2))).get("/metrics").text  # /metrics
    for outcome, n in (
        ("sent", 1),
        ("failed", 2),
        ("suppressed", 1),
        ("cancelled", 0),
        ("waiting", 5),
    ):
        assert (
            f'mailer_issue_recipients{{issue="{issue.number}",outcome="{outcome}"}} {n}.0' in scrape
        )

    lifecycle.cancel_issue(session, issue, utcnow())
    session.commit()
    after = progress(session, issue)
    assert (after.sent, after.suppressed, after.failed, after.cancelled, after.total) == (
        1,
        1,
        2,
        5,
        9,
    )
    shown = CliRunner().invoke(
        main, ["issue", "show", str(issue.number)], obj=runtime
    )  # issue show
    assert "recipients: 1/9 sent (cancelled 5, failed 2, suppressed 1)" in shown.output, (
        shown.output
    )
    data = json.loads(
        CliRunner().invoke(main, ["issue", "show", str(issue.number), "--json"], obj=runtime).stdout
    )
    assert {
        k: data["progress"][k]
        for k in ("sent", "cancelled", "failed", "suppressed", "done", "total")
    } == {"sent": 1, "cancelled": 5, "failed": 2, "suppressed": 1, "done": 9, "total": 9}


def test_the_wait_bar_ends_with_what_happened_to_each_recipient(session, issue, settings, runtime):
    from mailer.issues.service import transition
    from mailer.issues.states import IssueStatus

    start_send(session, issue, settings, utcnow())
    transition(session, issue, IssueStatus.PAUSED)
    session.commit()
    subscribers.unsubscribe(session, subscribers.get_by_email(session, "en0@example.com").id)
    session.commit()
    result = CliRunner().invoke(main, ["issue", "resume", str(issue.number), "--wait"], obj=runtime)
    assert result.exit_code == 0, result.output
    assert f"issue #{issue.number}: sent: 8/9 sent (suppressed 1)" in result.output


def test_the_send_bar_starts_at_the_issues_true_total(
    session, issue, runtime, subscribers_by_lang, monkeypatch
):
    import click

    from mailer.cli import issues as issue_commands

    opened = []
    real = click.progressbar

    def recording(*args, **kwargs):  # click's own bar, its starting length noted
        opened.append(kwargs.get("length"))
        return real(*args, **kwargs)

    monkeypatch.setattr(issue_commands.click, "progressbar", recording)
    result = CliRunner().invoke(main, ["issue", "send", str(issue.number), "--wait"], obj=runtime)
    assert result.exit_code == 0, result.output
    total = sum(subscribers_by_lang.values())  # the active readers
    assert f"{total}/{total} sent" in result.output
    assert opened == [total]


@pytest.fixture
def only_ko_scheduled(session, issue, settings, runtime):
    """Only the Korean edition given a time, and that time come: beat's tick sends it, and the others wait."""
    from mailer.delivery import facade
    from mailer.issues.models import Edition

    scheduling.schedule(
        session,
        issue,
        ("ko",),
        utcnow() + timedelta(hours=1),
        utcnow(),
        settings,
        approved_by="an admin",
    )
    session.commit()
    session.execute(
        update(Edition)
        .where(Edition.issue_id == issue.id, Edition.lang == "ko")
        .values(send_at=utcnow() - timedelta(seconds=1))
    )  # an hour later
    session.commit()
    assert facade.send_due(runtime)  # in-process: ko's batches sent here
    session.expire_all()
    return issue


def test_an_issue_with_an_edition_never_scheduled_reads_as_partly_sent(
    session, only_ko_scheduled, caplog, runtime, settings
):
    from mailer.delivery.tasks import run_warn_unscheduled
    from mailer.web.admin.accounts import create_user
    from tests.web.admin.conftest import PASSWORD, log_in

    issue = only_ko_scheduled
    # beat's daily warning (first: the CLI below sets up logging afresh, without pytest's capture)
    with caplog.at_level(logging.WARNING, logger="mailer.delivery.tasks"):
        assert run_warn_unscheduled(runtime) == 1
    [warning] = [r for r in caplog.records if r.name == "mailer.delivery.tasks"]
    assert (
        f"issue #{issue.number}: edition(s) " in warning.getMessage()
        and warning.issue == issue.number
    )
    assert "have no send time" in warning.getMessage()

    now = progress(session, issue)
    assert issue.status == "sending" and now.state == PARTLY_SENT
    assert (now.sent, now.total, now.waiting) == (4, 4, 0) and set(now.unscheduled) == {
        "en",
        "both",
    }

    [row] = issues_in_flight(session, utcnow(), settings)  # ops status: no "time to drain unknown"
    assert row["state"] == PARTLY_SENT and set(row["unscheduled"]) == {"en", "both"}
    status = CliRunner().invoke(main, ["ops", "status"], obj=runtime).output
    assert (
        f"issue #{issue.number}: partly sent 4/4 recipients: 4/4 sent; not scheduled: " in status
    ), status
    assert "time to drain" not in status

    shown = (
        CliRunner().invoke(main, ["issue", "show", str(issue.number)], obj=runtime).output
    )  # issue show
    assert f"issue #{issue.number}: partly sent" in shown
    assert shown.count("not scheduled: waiting for a send time") == 2, shown
    data = json.loads(
        CliRunner().invoke(main, ["issue", "show", str(issue.number), "--json"], obj=runtime).stdout
    )
    assert data["status"] == "sending" and data["progress"]["state"] == PARTLY_SENT

    create_user(session, "mina", PASSWORD)  # the desk: the dashboard and the issue's page
    session.commit()
    desk = TestClient(
        create_web_app(runtime), base_url="https://testserver", follow_redirects=False
    )
    assert log_in(desk).status_code == 303
    for page in ("/admin", f"/admin/issues/{issue.number}"):
        html = desk.get(page, headers={"Accept-Language": "en"}).text
        assert "Partly sent" in html and "waiting for a send time: " in html, page
        assert (
            '"issue.done">4</span> / <span data-field="issue.total">4<' in html
            if page != "/admin"
            else "4 / 4" in html
        ), page


def test_beat_warns_about_unscheduled_editions_once_a_day():
    from celery.schedules import crontab

    from mailer.celery_app import create_app
    from mailer.config import Settings

    entry = create_app(Settings(_env_file=None)).conf.beat_schedule["warn-unscheduled-editions"]
    assert entry["task"] == "mailer.warn_unscheduled"
    assert isinstance(entry["schedule"], crontab) and len(entry["schedule"].hour) == 1
    assert len(entry["schedule"].minute) == 1 and len(entry["schedule"].day_of_week) == 7
