"""One conformance test, run against every Sender implementation (SendGrid through the stand-in)."""

import io
from email import policy
from email.parser import BytesParser

import pytest
from pydantic import SecretStr

from mailer.mail.message import OutgoingBatch, Recipient
from mailer.mail.senders import ConsoleSender, OutboxSender, SendResult, get_sender
from mailer.mail.sendgrid import SendGridSender
from mailer.rendering.placeholders import UNSUBSCRIBE_URL, fill
from mailer.standin import StandIn


def make_batch(n=3) -> OutgoingBatch:
    recipients = [
        Recipient(
            100 + i,
            f"r{i}@example.com",
            {UNSUBSCRIBE_URL: f"https://n.example/unsubscribe/t{i}"},
            {"List-Unsubscribe": f"<https://n.example/unsubscribe/t{i}>"},
            {"delivery_id": str(100 + i)},
        )
        for i in range(n)
    ]
    # as the service builds it: what every recipient shares is given once, for the whole batch
    return OutgoingBatch(
        "ko",
        "news@example.com",
        "서울 레저",
        "주간 브리핑 3호",
        f'<html lang="ko"><a href="{UNSUBSCRIBE_URL}">구독 취소</a></html>',
        f"구독 취소: {UNSUBSCRIBE_URL}",
        recipients,
        batch_id=7,
        issue_number=3,
        categories=("digest",),
        headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        custom_args={"issue_id": "3", "batch_id": "7"},
    )


def _from_mime(raw: bytes) -> dict:
    m = BytesParser(policy=policy.default).parsebytes(raw)
    return {
        "to": m["To"],
        "subject": m["Subject"],
        "unsubscribe": m["List-Unsubscribe"],
        "one_click": m["List-Unsubscribe-Post"],
        "html": m.get_body(("html",)).get_content(),
        "text": m.get_body(("plain",)).get_content(),
    }


class Outbox:
    def make(self, tmp_path):
        self.dir = tmp_path
        return OutboxSender(tmp_path)

    def delivered(self):
        return [_from_mime(p.read_bytes()) for p in sorted(self.dir.rglob("*.eml"))]


class Console:
    def make(self, tmp_path):
        self.stream = io.StringIO()
        return ConsoleSender(self.stream)

    def delivered(self):
        chunks = self.stream.getvalue().split("Content-Type: multipart/alternative")[1:]
        return [_from_mime(("Content-Type: multipart/alternative" + c).encode()) for c in chunks]


class SendGrid:
    """What SendGrid would deliver: each personalization applied to the request's content."""

    def make(self, tmp_path):
        self.standin = StandIn(api_key="SG.test", keep_payloads=True).start()
        return SendGridSender("SG.test", self.standin.url, timeout=5)

    def delivered(self):
        out = []
        for record in self.standin.accepted():
            payload = record["payload"]
            text, html = (c["value"] for c in payload["content"])
            for p in payload["personalizations"]:
                headers = {
                    **payload.get("headers", {}),
                    **p.get("headers", {}),
                }  # as SendGrid merges them
                out.append(
                    {
                        "to": p["to"][0]["email"],
                        "subject": payload["subject"],
                        "unsubscribe": headers["List-Unsubscribe"],
                        "one_click": headers["List-Unsubscribe-Post"],
                        "html": fill(html, p["substitutions"]),
                        "text": fill(text, p["substitutions"]),
                    }
                )
        return out

    def close(self):
        self.standin.stop()


@pytest.fixture(params=[Outbox, Console, SendGrid], ids=["outbox", "console", "sendgrid"])
def backend(request):
    b = request.param()
    yield b
    if hasattr(b, "close"):
        b.close()


def test_sender_conformance(backend, tmp_path):
    sender = backend.make(tmp_path)
    result = sender.send(make_batch())
    assert isinstance(result, SendResult) and result.message_id and result.invalid == []
    messages = backend.delivered()
    assert sorted(m["to"] for m in messages) == [
        "r0@example.com",
        "r1@example.com",
        "r2@example.com",
    ]
    for m in messages:
        i = m["to"][1]
        assert m["subject"] == "주간 브리핑 3호"
        assert m["unsubscribe"] == f"<https://n.example/unsubscribe/t{i}>"
        assert m["one_click"] == "List-Unsubscribe=One-Click"
        assert (
            f'href="https://n.example/unsubscribe/t{i}"' in m["html"]
        )  # each reader their own link
        assert f"https://n.example/unsubscribe/t{i}" in m["text"]


def test_outbox_send_is_idempotent(tmp_path):
    sender = OutboxSender(tmp_path)
    sender.send(make_batch())
    sender.send(make_batch())
    assert len(list(tmp_path.rglob("*.eml"))) == 3
    assert not list(tmp_path.rglob("*.tmp"))


def test_backend_is_chosen_by_setting(settings, make_runtime):
    assert get_sender(settings).name == "outbox"
    assert get_sender(settings.model_copy(update={"mail_backend": "console"})).name == "console"
    chosen = {"mail_backend": "sendgrid", "sendgrid_api_key": SecretStr("SG.key")}
    assert get_sender(settings.model_copy(update=chosen)).name == "sendgrid"
    assert make_runtime(**chosen).sender.name == "sendgrid"  # what a process is built with


def test_every_sender_is_done_forgetting_a_bounce_it_never_had(backend, tmp_path):
    """Asked to forget a bounce it does not keep (or never had), every backend is done, mailing nobody
    (SendGrid answers 404 there: done as well)."""
    sender = backend.make(tmp_path)
    assert sender.forget_bounce("r0@example.com") is None
    assert backend.delivered() == []  # no mail for it
