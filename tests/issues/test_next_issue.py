"""When a reader's next issue comes."""

from __future__ import annotations

from datetime import UTC, datetime

from mailer.issues.next_issue import next_issue, weekly_slot


def test_the_weekly_slot_is_the_next_one_after_now(settings):
    s = settings.model_copy(
        update={"digest_weekday": 0, "digest_hour": 6, "digest_timezone": "Asia/Seoul"}
    )
    # Sunday 20:00 UTC is Monday 05:00 in Seoul: that Monday's 06:00
    assert weekly_slot(s, datetime(2026, 12, 6, 20, tzinfo=UTC)).isoformat() == (
        "2026-12-07T06:00:00+09:00"
    )
    # Monday 06:00 in Seoul itself: the next week's
    assert weekly_slot(s, datetime(2026, 12, 6, 21, tzinfo=UTC)).isoformat() == (
        "2026-12-14T06:00:00+09:00"
    )


def test_a_scheduled_edition_comes_first(session, issue, settings):
    from mailer.issues.models import Edition

    edition = session.query(Edition).filter_by(issue_id=issue.id, lang="en").one()
    edition.send_at = datetime(2026, 12, 9, 1, tzinfo=UTC)
    edition.send_tz = "America/New_York"
    session.commit()
    when, zone = next_issue(session, settings, "en", datetime(2026, 12, 6, 12, tzinfo=UTC))
    assert zone == "America/New_York" and when.isoformat() == "2026-12-08T20:00:00-05:00"
    when, _ = next_issue(session, settings, "ko", datetime(2026, 12, 6, 12, tzinfo=UTC))
    assert when.isoformat() == "2026-12-07T06:00:00+09:00"
