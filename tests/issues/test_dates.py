"""Each edition is dated by the day it is sent, in its send time zone: a draft made Monday 06:00
in Seoul (Sunday 21:00 UTC) is dated Monday; scheduling, rescheduling and sending re-date it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update

from mailer.articles.models import Article
from mailer.issues import scheduling
from mailer.issues.archive import public_issues
from mailer.issues.digest import planned_day
from mailer.issues.service import draft_issue
from tests.factories import start_send

DRAFTED = datetime(2026, 11, 29, 21, 0, tzinfo=UTC)  # Monday 30 November, 06:00 in Seoul
WRITTEN = {  # how each edition writes a day
    date(2026, 11, 30): {"ko": "2026년 11월 30일 월요일", "en": "Monday, November 30, 2026"},
    date(2026, 12, 1): {"ko": "2026년 12월 1일 화요일", "en": "Tuesday, December 1, 2026"},
    date(2026, 12, 2): {"ko": "2026년 12월 2일 수요일", "en": "Wednesday, December 2, 2026"},
}


@pytest.fixture
def monday_issue(session, ingested, settings):
    """The next issue drafted at DRAFTED, from stories published two hours before."""
    session.execute(update(Article).values(published_at=DRAFTED - timedelta(hours=2)))
    drafted = draft_issue(session, DRAFTED, settings)
    session.commit()
    return drafted


def _assert_dated(issue, day: date, langs=("ko", "en", "both")):
    for e in issue.editions:
        if e.lang not in langs:
            continue
        assert e.dated == day, e.lang
        for code in ("ko", "en"):
            written = WRITTEN[day][code]
            if e.lang in (code, "both"):
                assert written in e.html and written in e.text, (e.lang, written)
            else:
                assert written not in e.html


def test_the_planned_send_day_is_the_digest_weekday_on_or_after_the_draft_in_its_zone(settings):
    assert planned_day(DRAFTED, settings) == date(2026, 11, 30)  # not the UTC date, Sunday the 29th
    assert planned_day(DRAFTED + timedelta(days=1), settings) == date(
        2026, 12, 7
    )  # drafted Tuesday: next Monday


def test_a_draft_made_at_six_in_seoul_is_dated_that_monday_not_the_utc_sunday(monday_issue):
    _assert_dated(monday_issue, date(2026, 11, 30))
    assert not any("11월 29일" in e.html or "November 29" in e.html for e in monday_issue.editions)


def test_scheduling_and_rescheduling_redate_in_the_zone_given(session, monday_issue, settings):
    scheduling.schedule(
        session,
        monday_issue,
        ("ko", "both"),
        scheduling.parse_when("2026-12-01T07:00", "Asia/Seoul"),
        DRAFTED,
        settings,
        approved_by="an admin",
    )
    _assert_dated(monday_issue, date(2026, 12, 1), ("ko", "both"))
    _assert_dated(monday_issue, date(2026, 11, 30), ("en",))  # not scheduled: the planned day still
    # 20:00 on Monday in New York is already Tuesday in Seoul and in UTC: the English edition says Monday
    scheduling.schedule(
        session,
        monday_issue,
        ("en",),
        scheduling.parse_when("2026-11-30T20:00", "America/New_York"),
        DRAFTED,
        settings,
        approved_by="an admin",
    )
    en = next(e for e in monday_issue.editions if e.lang == "en")
    assert (
        en.send_at == datetime(2026, 12, 1, 1, 0, tzinfo=UTC) and en.send_tz == "America/New_York"
    )
    _assert_dated(monday_issue, date(2026, 11, 30), ("en",))
    scheduling.schedule(
        session,
        monday_issue,
        ("ko", "both"),
        scheduling.parse_when("2026-12-02T07:00", "Asia/Seoul"),
        DRAFTED,
        settings,
        approved_by="an admin",
    )
    _assert_dated(monday_issue, date(2026, 12, 2), ("ko", "both"))
    scheduling.unschedule(session, monday_issue, settings)
    _assert_dated(monday_issue, date(2026, 11, 30))


def test_an_edition_sent_on_another_day_than_planned_is_dated_the_day_it_went_out(
    session, monday_issue, settings
):
    scheduling.schedule(
        session,
        monday_issue,
        ("ko", "en", "both"),
        scheduling.parse_when("2026-11-30T07:00", "Asia/Seoul"),
        DRAFTED,
        settings,
        approved_by="an admin",
    )
    _assert_dated(monday_issue, date(2026, 11, 30))
    sent_at = datetime(
        2026, 12, 2, 0, 30, tzinfo=UTC
    )  # Wednesday 09:30 in Seoul: sent late, by hand
    start_send(session, monday_issue, settings, sent_at)
    session.commit()
    session.expire_all()
    _assert_dated(monday_issue, date(2026, 12, 2))
    # the archive lists the day each edition went out
    [(listed, editions)] = public_issues(session)
    assert listed.number == monday_issue.number and {e.dated for e in editions} == {
        date(2026, 12, 2)
    }
