"""One conformance test, run against every Sender implementation."""

import io
from email import policy
from email.parser import BytesParser

import pytest

from mailer.delivery.message import OutgoingBatch, Recipient
from mailer.delivery.senders import ConsoleSender, OutboxSender, SendResult, get_sender
from mailer.rendering.placeholders import UNSUBSCRIBE_URL


def _batch(n=3) -> OutgoingBatch:
    recipients = [
        Recipient(100 + i, f"r{i}@example.com", {UNSUBSCRIBE_URL: f"https://n.example/unsubscribe/t{i}"},
                  {"List-Unsubscribe": f"<https://n.example/unsubscribe/t{i}>",
                   "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
                  {"delivery_id": str(100 + i)})
        for i in range(n)
    ]
    return OutgoingBatch(7, 3, "ko", "news@example.com", "서울 레저", "주간 브리핑 3호", 
                         f'<html lang="ko"><a href="{UNSUBSCRIBE_URL}">구독 취소</a></html>',
                         f"구독 취소: {UNSUBSCRIBE_URL}", recipients, categories=("digest",))


class Outbox:
    def make(self, tmp_path):
        self.dir = tmp_path
        return OutboxSender(tmp_path)

    def delivered(self):
        return [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in sorted(self.dir.rglob("*.eml"))]


class Console:
    def make(self, tmp_path):
        self.stream = io.StringIO()
        return ConsoleSender(self.stream)

    def delivered(self):
        chunks = self.stream.getvalue().split("Content-Type: multipart/alternative")[1:]
        return [BytesParser(policy=policy.default).parsebytes(("Content-Type: multipart/alternative" + c).encode())
                for c in chunks]


@pytest.fixture(params=[Outbox, Console], ids=["outbox", "console"])
def backend(request):
    return request.param()


def test_sender_conformance(backend, tmp_path):
    sender = backend.make(tmp_path)
    result = sender.send(_batch())
    assert isinstance(result, SendResult) and result.message_id and result.invalid == []
    messages = backend.delivered()
    assert sorted(m["To"] for m in messages) == ["r0@example.com", "r1@example.com", "r2@example.com"]
    for m in messages:
        i = m["To"][1]
        assert m["Subject"] == "주간 브리핑 3호"
        assert m["List-Unsubscribe"] == f"<https://n.example/unsubscribe/t{i}>"
        assert f"https://n.example/unsubscribe/t{i}" in m.get_body(("html",)).get_content()


def test_outbox_send_is_idempotent(tmp_path):
    sender = OutboxSender(tmp_path)
    sender.send(_batch())
    sender.send(_batch())
    assert len(list(tmp_path.rglob("*.eml"))) == 3
    assert not list(tmp_path.rglob("*.tmp"))


def test_backend_is_chosen_by_setting(settings, monkeypatch):
    from mailer.config import get_settings

    assert get_sender(settings).name == "outbox"
    monkeypatch.setenv("MAILER_MAIL_BACKEND", "console")
    get_settings.cache_clear()
    assert get_sender(get_settings()).name == "console"
