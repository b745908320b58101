"""Per-edition send times: stored, sent by the beat tick when due, each edition exactly once."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from mailer.db import utcnow
from mailer.delivery.models import Batch, Delivery
from mailer.delivery.start import start_due
from mailer.issues import scheduling
from mailer.issues.models import DraftRun, Edition
from mailer.issues.service import IssueError, draft_issue
from mailer.issues.states import IssueStatus
from tests.factories import start_send

pytestmark = pytest.mark.usefixtures("subscribers_by_lang")  # this module's issue has readers


def _deliveries(session, lang=None):
    q = select(func.count()).select_from(Delivery).join(Edition, Edition.id == Delivery.edition_id)
    return session.scalar(q.where(Edition.lang == lang) if lang else q)


def test_parse_when_reads_a_naive_time_in_the_zone_given():
    assert scheduling.parse_when("2026-12-07T07:00", "Asia/Seoul") == datetime(
        2026, 12, 6, 22, 0, tzinfo=UTC
    )
    assert scheduling.parse_when("2026-12-07T07:00", "America/New_York") == datetime(
        2026, 12, 7, 12, tzinfo=UTC
    )
    assert scheduling.parse_when("2026-12-07T07:00+00:00", "Asia/Seoul") == datetime(
        2026, 12, 7, 7, tzinfo=UTC
    )
    with pytest.raises(IssueError, match="ISO 8601"):
        scheduling.parse_when("next monday", "Asia/Seoul")
    with pytest.raises(IssueError, match="time zone"):
        scheduling.parse_when("2026-12-07T07:00", "Mars/Olympus")


def test_each_edition_goes_out_at_its_own_time_and_only_once(
    session, issue, settings, subscribers_by_lang, runtime
):
    now = utcnow()
    ko_at, en_at = now + timedelta(hours=1), now + timedelta(hours=14)
    scheduling.schedule(
        session, issue, ("ko", "both"), ko_at, now, settings, approved_by="an admin"
    )
    scheduling.schedule(session, issue, ("en",), en_at, now, settings, approved_by="an admin")
    session.commit()
    assert issue.status == IssueStatus.SCHEDULED and issue.scheduled_at == ko_at

    assert start_due(session, settings, ko_at - timedelta(seconds=1)) == []  # nothing due yet
    first = start_due(session, settings, ko_at)
    session.commit()
    assert first and _deliveries(session, "ko") == 4 and _deliveries(session, "both") == 2
    assert _deliveries(session, "en") == 0
    session.refresh(issue)
    assert issue.status == IssueStatus.SENDING

    # a second tick, or a tick after beat or the workers restarted, starts nothing again
    assert start_due(session, settings, ko_at + timedelta(minutes=1)) == []
    runtime.tasks.send_batches(first)
    session.expire_all()
    assert session.get(type(issue), issue.id).status == IssueStatus.SENDING  # en is still to go

    second = start_due(session, settings, en_at)
    session.commit()
    assert second and _deliveries(session, "en") == 3
    runtime.tasks.send_batches(second)
    session.expire_all()
    assert session.get(type(issue), issue.id).status == IssueStatus.SENT
    assert _deliveries(session) == sum(subscribers_by_lang.values())


def test_send_now_after_a_partial_schedule_sends_only_the_rest(session, issue, settings):
    now = utcnow()
    scheduling.schedule(
        session, issue, ("ko",), now + timedelta(minutes=5), now, settings, approved_by="an admin"
    )
    session.commit()
    start_due(session, settings, now + timedelta(minutes=5))
    session.commit()
    rest = start_send(session, issue, settings, utcnow())
    session.commit()
    langs = set(
        session.scalars(
            select(Edition.lang)
            .join(Batch, Batch.edition_id == Edition.id)
            .where(Batch.id.in_(rest))
        )
    )
    assert langs == {"en", "both"}
    assert _deliveries(session) == 9
    assert start_due(session, settings, now + timedelta(days=1)) == []


def test_a_paused_or_cancelled_issue_starts_no_due_edition(session, issue, settings):
    from mailer.delivery.lifecycle import cancel_issue

    now = utcnow()
    scheduling.schedule(
        session, issue, ("ko",), now + timedelta(minutes=1), now, settings, approved_by="an admin"
    )
    cancel_issue(session, issue, now)
    session.commit()
    assert start_due(session, settings, now + timedelta(hours=1)) == []
    assert _deliveries(session) == 0


def test_scheduling_refuses_the_past_and_unschedule_clears_every_time(session, issue, settings):
    now = utcnow()
    with pytest.raises(IssueError, match="in the past"):
        scheduling.schedule(
            session,
            issue,
            ("ko",),
            now - timedelta(minutes=1),
            now,
            settings,
            approved_by="an admin",
        )
    scheduling.schedule(
        session,
        issue,
        scheduling.langs_of("all"),
        now + timedelta(hours=1),
        now,
        settings,
        approved_by="an admin",
    )
    scheduling.unschedule(session, issue, settings)
    assert issue.status == IssueStatus.DRAFT and all(e.send_at is None for e in issue.editions)


def test_an_empty_week_is_recorded_for_the_dashboard(session, ingested, settings):
    assert draft_issue(session, utcnow(), settings) is not None
    assert draft_issue(session, utcnow(), settings) is None
    runs = session.scalars(select(DraftRun).order_by(DraftRun.id)).all()
    assert [r.issue_number for r in runs] == [1, None] and runs[1].stories == 0


def test_beat_drafts_on_the_configured_cadence_and_ticks_for_due_sends(monkeypatch):
    from mailer.celery_app import beat_schedule
    from mailer.config import Settings

    s = Settings(
        digest_weekday=2,
        digest_hour=7,
        digest_timezone="America/New_York",
        schedule_tick_seconds=30,
    )
    entries = beat_schedule(s)
    draft = entries["draft-weekly-issue"]["schedule"]
    assert (
        draft.hour == {7} and draft.minute == {0} and draft.day_of_week == {3}
    )  # Wednesday (crontab: 0 = Sunday)
    assert entries["send-due-editions"] == {"task": "mailer.send_due", "schedule": 30}
    from mailer.celery_app import create_app

    assert create_app(s).conf.timezone == "America/New_York"


def test_the_beat_task_drafts_and_an_empty_week_returns_none(session, ingested, runtime):
    from mailer.issues.tasks import run_draft_issue

    assert run_draft_issue(runtime) == 1
    assert run_draft_issue(runtime) is None


@pytest.mark.slow  # waits 1.1 s for the send time
def test_the_beat_tick_task_sends_what_is_due(session, issue, settings, runtime):
    from mailer.delivery.tasks import run_send_due

    now = utcnow()
    scheduling.schedule(
        session,
        issue,
        scheduling.langs_of("all"),
        now + timedelta(seconds=1),
        now,
        settings,
        approved_by="an admin",
    )
    session.commit()
    assert run_send_due(runtime) == 0  # not yet
    import time

    time.sleep(1.1)
    assert run_send_due(runtime) > 0
    assert run_send_due(runtime) == 0  # and never twice
    session.expire_all()
    assert (
        session.get(type(issue), issue.id).status == IssueStatus.SENT and _deliveries(session) == 9
    )


def test_the_migration_keeps_every_send_time_planned_before_approvals(tmp_path):
    """An upgrade stops no send already planned: a send time set before approvals counts as approved;
    an edition without one has nothing to approve."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from mailer.db import alembic_config

    url = f"sqlite:///{tmp_path / 'approvals.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0016")
    engine = create_engine(url)
    when = "'2099-01-05 07:00:00'"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO issues (id, number, status, window_start, window_end, created_at,"
                f" updated_at) VALUES (1, 1, 'scheduled', {when}, {when}, {when}, {when})"
            )
        )
        for lang, send_at in (("ko", when), ("en", "NULL")):
            conn.execute(
                text(
                    "INSERT INTO editions (issue_id, lang, subject, preheader, note, send_at)"
                    f" VALUES (1, '{lang}', 's', '', '', {send_at})"
                )
            )
    command.upgrade(config, "0017")
    with engine.begin() as conn:
        rows = dict(conn.execute(text("SELECT lang, approved_at FROM editions")).all())
    assert rows["ko"] is not None and rows["en"] is None
