"""The web app over HTTP, and the confirmation mails it sends (read back from the outbox)."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_up(client, email: str, lang: str, *, page_lang: str = "ko", **headers):
    form = client.get(f"/subscribe?lang={page_lang}")
    return client.post(
        f"/subscribe?lang={page_lang}",
        headers=headers,
        data={"email": email, "lang": lang, "csrf_token": csrf_of(form.text)},
    )


class Outbox:
    """The confirmation mails written by the outbox backend, oldest first."""

    def __init__(self, root: Path):
        self.root = Path(root) / "confirm"

    def messages(self, to: str | None = None) -> list:
        paths = sorted(self.root.rglob("*.eml"), key=lambda p: int(p.stem))
        found = [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in paths]
        return [m for m in found if to is None or m["To"] == to]

    def link(self, message, purpose: str = "confirm") -> str:
        text = message.get_body(("plain",)).get_content()
        return re.search(rf"https://news\.example\.com(/{purpose}/[\w.-]+)", text).group(1)


@pytest.fixture
def outbox(settings) -> Outbox:
    return Outbox(settings.outbox_dir)


def tamper(token: str) -> str:
    """One signature character changed (not the last: its low bits are base64 padding)."""
    return token[:-5] + ("x" if token[-5] != "x" else "y") + token[-4:]


class LookAtAnswer:
    """The app, with a look at the database the moment each answer starts out (http.response.start):
    what a client acting on the answer at once finds. `seen` holds (method, path, what look returned)."""

    def __init__(self, app, look):
        self.app, self.look, self.seen = app, look, []

    async def __call__(self, scope, receive, send):
        async def watched(message):
            if message["type"] == "http.response.start":
                self.seen.append((scope["method"], scope["path"], self.look()))
            await send(message)

        await self.app(scope, receive, watched)

    def after(self, method: str, path: str) -> list:
        return [found for m, p, found in self.seen if (m, p) == (method, path)]
