"""A generic 400 fails only the recipients it is about, and an admin can resend failed batches
without mailing anyone twice."""

import pytest
from sqlalchemy import select

from mailer.delivery import facade
from mailer.delivery.models import Batch, BatchStatus, Delivery, DeliveryStatus
from mailer.issues import reasons
from mailer.issues.models import Issue
from mailer.issues.service import IssueError
from mailer.issues.states import IssueStatus
from mailer.mail.senders import OutboxSender, SendError

pytestmark = pytest.mark.usefixtures("subscribers_by_lang")  # this module's issue has readers

POISON = "ko3@example.com"


class Refusing(OutboxSender):
    """Answers a 400 naming no recipient to a request that holds `poison`, or to the first `failures`
    requests; records who each accepted request reached."""

    def __init__(self, directory, poison=None, failures=0):
        super().__init__(directory)
        self.poison, self.failures, self.accepted = poison, failures, []

    def send(self, batch):
        emails = [r.email for r in batch.recipients]
        if self.failures or self.poison in emails:
            self.failures = max(0, self.failures - 1)
            raise SendError("400 Bad Request", kind=SendError.PERMANENT, status="400")
        self.accepted += emails
        return super().send(batch)


def _failed(session) -> set[str]:
    session.expire_all()
    return set(
        session.scalars(select(Delivery.email).where(Delivery.status == DeliveryStatus.FAILED))
    )


def test_a_generic_400_splits_the_batch_until_only_the_refused_reader_fails(
    session, issue, settings, make_runtime
):
    sender = Refusing(settings.outbox_dir, poison=POISON)
    rt = make_runtime(sender=sender, batch_size=2)  # the ko edition: [ko0, ko1], [ko2, ko3]
    facade.send_now(rt, issue.number)
    assert _failed(session) == {POISON}
    assert len(sender.accepted) == 8 == len(set(sender.accepted))
    issue = session.get(Issue, issue.id)
    assert issue.status == IssueStatus.SENT
    assert reasons.english(issue.status_reason) == "1 batch(es) failed"


def test_resending_failed_batches_mails_only_who_was_not_mailed(
    session, issue, settings, make_runtime
):
    sender = Refusing(settings.outbox_dir, failures=1)  # an outage of one request, say
    rt = make_runtime(sender=sender)
    facade.send_now(rt, issue.number)
    failed = _failed(session)
    assert failed and session.get(Issue, issue.id).status == IssueStatus.SENT
    before = list(sender.accepted)
    resent = facade.resend_failed(rt, issue.number)
    assert len(resent) == 1
    assert _failed(session) == set()
    assert sorted(sender.accepted[len(before) :]) == sorted(failed)  # them, and only them
    assert len(sender.accepted) == 9 == len(set(sender.accepted))
    issue = session.get(Issue, issue.id)
    assert issue.status == IssueStatus.SENT and issue.status_reason is None
    assert set(session.scalars(select(Batch.status))) == {BatchStatus.ACCEPTED}
    with pytest.raises(IssueError) as nothing:
        facade.resend_failed(rt, issue.number)
    assert nothing.value.code == "nothing_failed"


def test_an_issue_not_finished_is_not_resent(session, issue, runtime):
    with pytest.raises(IssueError) as refused:
        facade.resend_failed(runtime, issue.number)
    assert refused.value.code == "not_resendable"
    assert session.get(Issue, issue.id, populate_existing=True).status == IssueStatus.DRAFT
