"""Beat starts only an approved send time: a plain editor's schedule waits, an edit drops the approval."""

from datetime import timedelta

from mailer.db import utcnow
from mailer.delivery.start import due_editions
from mailer.issues import approvals, editing, scheduling


def test_an_unapproved_send_time_is_never_due_and_an_edit_drops_the_approval(
    session, issue, settings
):
    now = utcnow()
    at = now + timedelta(minutes=1)
    scheduling.schedule(session, issue, ("ko", "en"), at, now, settings, approved_by=None)
    session.commit()
    later = now + timedelta(minutes=5)
    assert due_editions(session, later) == {}
    assert [e.lang for e in approvals.waiting(issue)] == ["ko", "en"]

    approvals.approve(approvals.waiting(issue), "mina", now)
    session.commit()
    assert len(due_editions(session, later)[issue.id]) == 2

    editing.pin_story(session, issue, issue.stories[-1].article_id, True, settings=settings)
    session.commit()
    assert due_editions(session, later) == {} and len(approvals.waiting(issue)) == 2

    scheduling.schedule(session, issue, ("ko",), at, now, settings, approved_by="mina")
    assert [e.lang for e in approvals.approved(issue)] == ["ko"]
    scheduling.unschedule_edition(session, issue, "ko", settings)
    assert issue.editions[0].approved_at is None and issue.editions[0].approved_by is None
