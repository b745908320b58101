"""A reader whose address bounced hard signs up again themselves, over HTTP against the SendGrid
stand-in: the confirmation mail passes SendGrid's bounce list, confirming brings the reader back and
SendGrid is asked to forget the bounce. A complaint stays refused, with the same answer as anyone."""

from __future__ import annotations

import dataclasses
import re

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from mailer.mail.models import MailKind, MailStatus, OutboxMail
from subscribers import changes, lookup, service
from subscribers.models import Status

from .conftest import sign_up


@pytest.fixture
def standin():
    from mailer.standin import StandIn

    with StandIn(api_key="SG.test", keep_payloads=True, bounced={"hard@example.com"}) as s:
        yield s


@pytest.fixture
def web(standin, make_runtime):
    from fastapi.testclient import TestClient

    from mailer.web.app import create_app

    runtime = make_runtime(
        mail_backend="sendgrid", sendgrid_api_key=SecretStr("SG.test"), sendgrid_host=standin.url
    )
    return TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)


def _suppressed(session, email: str, status: str, detail: str | None = None):
    sub, _ = service.add(session, email, "ko", confirmed=True)
    service.mark_suppressed(session, sub.id, status, detail=detail)
    session.commit()
    return sub


def _mails_to(standin, email: str) -> list[dict]:
    return [r for r in standin.accepted() if email in r["recipients"]]


def _answer(response, email: str) -> str:
    """The page a sign-up gets, less what differs by right: the address typed and the form's token."""
    text = response.text.replace(email, "ADDRESS")
    return re.sub(r'name="csrf_token" value="[^"]+"', "", text)


def test_a_hard_bounced_reader_signs_up_confirms_and_sendgrid_forgets_the_bounce(
    web, standin, session
):
    sub = _suppressed(
        session,
        "hard@example.com",
        Status.BOUNCED,
        changes.provider("bounce", "550 5.1.1 The email account does not exist.", issue=3),
    )
    new = sign_up(web, "new@example.com", "en")
    again = sign_up(web, "hard@example.com", "en")
    assert again.status_code == new.status_code == 200
    assert _answer(again, "hard@example.com") == _answer(new, "new@example.com")
    session.expire_all()
    assert (
        service.get(session, sub.id).status == Status.BOUNCED
    )  # nothing changes before confirming

    [mail] = _mails_to(standin, "hard@example.com")
    assert mail["bypass_bounces"] and not _mails_to(standin, "new@example.com")[0]["bypass_bounces"]
    payload = mail["payload"]
    assert payload["mail_settings"] == {"bypass_bounce_management": {"enable": True}}
    link = re.search(
        r"https://news\.example\.com(/confirm/[\w.-]+)", payload["content"][0]["value"]
    )
    assert standin.bounces.deletes() == []

    assert web.post(link.group(1)).status_code == 200
    session.expire_all()
    sub = service.get(session, sub.id)
    assert (sub.status, sub.lang) == (Status.ACTIVE, "en")
    [rejoined] = [c for c in lookup.history(session, sub.id) if c.action == service.REJOINED]
    assert changes.english(rejoined.detail) == "bounced -> active, lang en"
    assert not service.bounced_hard(session, sub)  # the suppression is lifted
    assert standin.bounces.deletes() == ["hard@example.com"] and standin.bounces.listed() == set()
    rows = session.scalars(select(OutboxMail).where(OutboxMail.subscriber_id == sub.id)).all()
    assert {(r.kind, r.status) for r in rows} == {
        (MailKind.CONFIRMATION, MailStatus.SENT),
        (MailKind.FORGET_BOUNCE, MailStatus.SENT),
        (MailKind.WELCOME, MailStatus.SENT),
    }
    # the welcome went after SendGrid forgot the bounce: no need to pass the list
    assert [m["bypass_bounces"] for m in _mails_to(standin, "hard@example.com")] == [True, False]

    web.post(link.group(1))  # pressed again: nothing more asked of SendGrid
    assert standin.bounces.deletes() == ["hard@example.com"]


@pytest.mark.parametrize(
    "status, detail",
    [(Status.COMPLAINED, None), (Status.BOUNCED, changes.soft_bounces(3, issue=2))],
    ids=["complained", "soft-bounced"],
)
def test_a_complained_or_softly_bounced_address_is_refused_with_the_same_answer(
    web, standin, session, status, detail
):
    sub = _suppressed(session, "kept@example.com", status, detail)
    new = sign_up(web, "other@example.com", "ko")
    refused = sign_up(web, "kept@example.com", "ko")
    assert refused.status_code == new.status_code == 200
    assert _answer(refused, "kept@example.com") == _answer(new, "other@example.com")
    assert _mails_to(standin, "kept@example.com") == [] and standin.bounces.deletes() == []
    session.expire_all()
    assert service.get(session, sub.id).status == status
    assert sorted(c.action for c in lookup.history(session, sub.id)) == ["added", status]


def test_the_embedded_form_asks_a_hard_bounce_to_confirm_and_refuses_a_complaint_alike(
    web, standin, session
):
    from tests.web.test_embed import _post_json, _quick, solved

    _suppressed(session, "hard@example.com", Status.BOUNCED)
    _suppressed(session, "kept@example.com", Status.COMPLAINED)
    form = _quick(web)
    answers = [
        _post_json(form, email, "en", altcha=solved(form)).text.replace(email, "ADDRESS")
        for email in ("new@example.com", "hard@example.com", "kept@example.com")
    ]
    assert '"ok":true' in answers[0].replace(" ", "") and answers[1] == answers[0] == answers[2]
    [mail] = _mails_to(standin, "hard@example.com")
    assert mail["bypass_bounces"] and _mails_to(standin, "kept@example.com") == []


def test_a_forget_that_fails_for_a_while_is_retried_until_done(settings, session, make_runtime):
    from mailer.mail import transactional
    from mailer.mail.senders import SendError

    class Flaky:
        name = "flaky"

        def __init__(self):
            self.asked: list[str] = []

        def send(self, batch):
            raise AssertionError("no mail in this test")

        def forget_bounce(self, email):
            self.asked.append(email)
            if len(self.asked) == 1:
                raise SendError("SendGrid answered 503", kind=SendError.TRANSIENT, status="503")
            if len(self.asked) == 2:
                raise SendError("answer lost", kind=SendError.UNKNOWN, status="lost")

    class Queued:
        def __init__(self):
            self.mails: list[list[int]] = []

        def send_mails(self, mail_ids, countdown=0.0):
            self.mails.append(list(mail_ids))
            return "queued"

    sender, queued = Flaky(), Queued()
    runtime = dataclasses.replace(make_runtime(sender=sender), tasks=queued)
    sub, _ = service.add(session, "back@example.com", "ko", confirmed=True)
    mail_id = transactional.record(session, sub.id, "ko", kind=MailKind.FORGET_BOUNCE)
    session.commit()
    assert transactional.run_send_mail(runtime, mail_id) == "retrying"
    assert transactional.run_send_mail(runtime, mail_id) == "retrying"  # a lost answer: asked again
    assert transactional.run_send_mail(runtime, mail_id) == "sent"
    assert sender.asked == ["back@example.com"] * 3 and queued.mails == [[mail_id]] * 2
    assert transactional.run_send_mail(runtime, mail_id) == "done"  # a late copy asks nothing
    assert len(sender.asked) == 3


def test_a_welcome_that_goes_before_sendgrid_forgot_the_bounce_passes_the_list(
    session, make_runtime
):
    from mailer.mail import transactional

    class Recorder:
        name = "recorder"

        def __init__(self):
            self.bypassed: list[bool] = []

        def send(self, batch):
            from mailer.mail.senders import SendResult

            self.bypassed.append(batch.bypass_bounces)
            return SendResult(message_id="m")

        def forget_bounce(self, email):
            pass

    sender = Recorder()
    runtime = make_runtime(sender=sender)
    sub, _ = service.add(session, "back@example.com", "ko", confirmed=True)
    forget = transactional.record(session, sub.id, "ko", kind=MailKind.FORGET_BOUNCE)
    early = transactional.record(session, sub.id, "ko", kind=MailKind.WELCOME)
    late = transactional.record(session, sub.id, "ko", kind=MailKind.WELCOME)
    session.commit()
    assert transactional.run_send_mail(runtime, early) == "sent"
    assert transactional.run_send_mail(runtime, forget) == "sent"
    assert transactional.run_send_mail(runtime, late) == "sent"
    assert sender.bypassed == [True, False]
