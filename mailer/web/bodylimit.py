"""A cap on what an anonymous post to a public page may send, enforced before anything parses it.

A sign-up or a preference change is a few hundred bytes, but the form parser spools whatever arrives
(a multipart upload of any size) to disk before a route sees a field. So every request outside the
desk and the webhook (which keep limits of their own) is refused with 413 once its body passes
PUBLIC_BODY_MAX: at once when its Content-Length says so, and while it streams when it sends none
(chunked) or lies. Plain ASGI, like SecurityHeaders: it wraps receive(), costing one addition per chunk.
"""

from __future__ import annotations

import contextlib

from fastapi import Request

from mailer.web import page

PUBLIC_BODY_MAX = 16 * 1024
# Their own limits: the desk's uploads, SendGrid's event batches (MAILER_WEBHOOK_MAX_BYTES), and the
# one-click unsubscribe, which reads at most 64 KiB raw and never parses (a mailbox provider's post
# must work whatever it carries).
EXEMPT_PREFIXES = ("/admin", "/webhooks/", "/unsubscribe/")


class TooLarge(Exception):
    """Raised out of receive() into whatever was reading the body; the middleware answers 413."""


def _declared_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed one before us; count the stream then
    return None


class PublicBodyLimit:
    def __init__(self, app, limit: int = PUBLIC_BODY_MAX):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            return await self.app(scope, receive, send)
        declared = _declared_length(scope)
        if declared is not None and declared > self.limit:
            return await _too_large(scope, receive, send)
        seen, over, started = 0, False, False

        async def counted_receive():
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    over = True
                    raise TooLarge()
            return message

        async def guarded_send(message):
            nonlocal started
            if (
                over
            ):  # whatever the app makes of the aborted read (FastAPI: a 400), ours goes instead
                return
            started = True
            await send(message)

        with contextlib.suppress(TooLarge):  # raised in a route that did not catch it
            await self.app(scope, counted_receive, guarded_send)
        if over and not started:
            await _too_large(scope, receive, send)


async def _too_large(scope, receive, send) -> None:
    """413 in the page's language, with the connection closed: the rest of the body is not read."""
    request = Request(scope, receive)
    response = page.render(request, "too_large", 413, headers={"Connection": "close"})
    await response(scope, receive, send)
