"""The one way in to a send, as the CLI, the desk and beat use it."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from mailer.db import utcnow
from mailer.delivery import facade
from mailer.delivery.models import DeliveryStatus
from mailer.issues.models import Edition, Issue
from mailer.issues.service import IssueError
from mailer.issues.states import InvalidTransition, IssueStatus
from tests.factories import shown_statuses

pytestmark = pytest.mark.usefixtures("subscribers_by_lang")  # this module's issue has readers


def _status(session, number: int) -> str:
    session.expire_all()
    return session.scalar(select(Issue.status).where(Issue.number == number))


def _sent(session) -> int:
    return shown_statuses(session).count(DeliveryStatus.SENT)


def test_send_now_mails_every_reader_once_and_a_second_call_is_refused(
    session, issue, settings, runtime
):
    assert facade.send_now(runtime, issue.number)
    assert _status(session, issue.number) == IssueStatus.SENT and _sent(session) == 9
    with pytest.raises(InvalidTransition):
        facade.send_now(runtime, issue.number)
    assert _sent(session) == 9


def test_resume_refuses_an_issue_that_is_not_paused_and_changes_nothing(
    session, issue, settings, runtime
):
    with pytest.raises(IssueError, match="not paused"):
        facade.resume(runtime, issue.number)
    assert _status(session, issue.number) == IssueStatus.DRAFT and _sent(session) == 0


def test_pause_then_resume_sends_the_rest_once(session, issue, settings, runtime):
    from tests.factories import start_send

    start_send(
        session, issue, settings, utcnow()
    )  # the ledger is written; no batch is handed on yet
    session.commit()
    facade.pause(runtime, issue.number, "a typo in the lead")
    assert _status(session, issue.number) == IssueStatus.PAUSED
    assert facade.resume(runtime, issue.number)
    assert _status(session, issue.number) == IssueStatus.SENT and _sent(session) == 9


def test_cancel_stops_a_scheduled_issue_and_send_due_then_starts_nothing(
    session, issue, settings, runtime
):
    from mailer.issues import scheduling

    scheduling.schedule(
        session,
        issue,
        scheduling.langs_of("all"),
        utcnow() + timedelta(minutes=1),
        utcnow(),
        settings,
        approved_by="an admin",
    )
    session.commit()
    facade.cancel(runtime, issue.number)
    assert _status(session, issue.number) == IssueStatus.CANCELLED
    session.execute(
        update(Edition).values(send_at=utcnow() - timedelta(minutes=1))
    )  # its time has come
    session.commit()
    assert facade.send_due(runtime) == [] and _sent(session) == 0
