"""A public form's post is refused with 413 once its body passes 16 KiB, before the form parser spools
anything: by its Content-Length, or while it streams (chunked). The desk, the webhook and one-click
unsubscribe keep their own limits."""

import asyncio

import pytest
import starlette.formparsers
from sqlalchemy import select

from subscribers.models import Subscriber
from tests.web.conftest import csrf_of

BIG = 1024 * 1024


@pytest.fixture
def spooled(monkeypatch) -> list:
    """Every temporary file the form parser opens for an upload."""
    opened: list = []
    real = starlette.formparsers.SpooledTemporaryFile

    def recording(*args, **kwargs):
        opened.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", recording)
    return opened


@pytest.mark.parametrize(
    "page_lang, title", [("en", "That was too much to send"), ("ko", "보내신 내용이 너무 큽니다")]
)
def test_an_upload_to_the_sign_up_form_is_refused_unparsed(
    client, session, spooled, page_lang, title
):
    token = csrf_of(client.get(f"/subscribe?lang={page_lang}").text)
    response = client.post(
        f"/subscribe?lang={page_lang}",
        data={"email": "big@example.com", "lang": "en", "csrf_token": token},
        files={"attachment": ("big.bin", b"x" * BIG, "application/octet-stream")},
    )
    assert response.status_code == 413 and title in response.text
    assert response.headers["x-content-type-options"] == "nosniff"  # still behind the headers
    assert spooled == [] and session.scalar(select(Subscriber)) is None


def test_a_chunked_body_is_counted_as_it_streams(client, session, spooled):
    token = csrf_of(client.get("/subscribe?lang=en").text)
    head = f"email=chunked%40example.com&lang=en&csrf_token={token}&pad=".encode()

    def chunks():
        yield head
        for _ in range(64):
            yield b"y" * 1024

    response = client.post(
        "/subscribe?lang=en",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert "content-length" not in response.request.headers  # sent chunked
    assert response.status_code == 413 and session.scalar(select(Subscriber)) is None


def test_a_declared_length_over_the_limit_is_refused_before_reading(client):
    from mailer.web.bodylimit import PublicBodyLimit

    app = PublicBodyLimit(client.app)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/preferences/anything",
        "raw_path": b"/preferences/anything",
        "query_string": b"lang=ko",
        "headers": [(b"content-length", str(BIG).encode()), (b"host", b"testserver")],
        "app": client.app,
    }
    sent = []

    async def receive():
        raise AssertionError("the body was read")

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert "보내신 내용이 너무 큽니다" in b"".join(m.get("body", b"") for m in sent[1:]).decode()


def test_a_sign_up_of_ordinary_size_still_goes_through(client, session):
    token = csrf_of(client.get("/subscribe?lang=en").text)
    response = client.post(
        "/subscribe?lang=en",
        data={"email": "small@example.com", "lang": "en", "csrf_token": token, "pad": "z" * 8000},
    )
    assert response.status_code == 200 and session.scalar(select(Subscriber)) is not None


def test_the_webhook_and_one_click_unsubscribe_keep_their_own_limits(client, session, settings):
    from subscribers import service, tokens

    sub, _ = service.add(session, "reader@example.com", "en", confirmed=True)
    session.commit()
    link = f"/unsubscribe/{tokens.make_token(tokens.UNSUBSCRIBE, sub.id, settings)}"
    padded = "List-Unsubscribe=One-Click&" + "p" * 20_000  # whatever a mailbox provider sends
    one_click = client.post(
        link, content=padded, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert one_click.status_code == 200
    webhook = client.post("/webhooks/sendgrid", content=b"[" + b" " * 20_000 + b"]")
    assert webhook.status_code != 413  # refused for its missing signature, not its size
