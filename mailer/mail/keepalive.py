"""One HTTP(S) connection per thread, kept open from one request to the next, for the `sendgrid` client.

The client (python_http_client) opens a new connection for every request: a TCP and a TLS handshake
before each batch of 1,000 recipients. Its `Client._make_request(opener, request, timeout)` is the
seam it offers for replacing how a request is made; `KeepAlive` is a drop-in for it that answers the
same way (a response with getcode/read/info, the client's HTTPError subclasses for 4xx and 5xx) and
raises the same socket and http.client errors when a connection fails.
"""

from __future__ import annotations

import http.client
import io
import select
import ssl
import threading
import urllib.error
import urllib.request
from email.message import Message
from urllib.parse import urlsplit

from python_http_client.exceptions import handle_error


class _Answer:
    """What python_http_client.Response reads from an answer."""

    def __init__(self, status: int, body: bytes, headers: Message):
        self.status, self.body, self.headers = status, body, headers

    def getcode(self) -> int:
        return self.status

    def read(self) -> bytes:
        return self.body

    def info(self) -> Message:
        return self.headers


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle connection's peer has closed it (or sent something unasked): reading would not
    block, where a live idle connection has nothing to read."""
    sock = connection.sock
    return sock is None or bool(select.select([sock], [], [], 0)[0])


class KeepAlive:
    """Makes a request on this thread's open connection to the request's host, opening one first when
    there is none or the peer has closed it. A connection is closed after any failure, and whenever the
    server says it will close it, so a half-read answer never carries over to the next request."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._local = threading.local()
        self._context = ssl.create_default_context()

    def __call__(self, opener, request: urllib.request.Request, timeout: float | None = None):
        connection = self._connection(request.full_url, timeout or self.timeout)
        try:
            connection.request(
                request.get_method(),
                request.selector,
                body=request.data,
                headers=dict(request.header_items()),
            )
            response = connection.getresponse()
            body = response.read()
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        if response.status >= 400:
            error = urllib.error.HTTPError(
                request.full_url, response.status, response.reason, response.msg, io.BytesIO(body)
            )
            raise handle_error(error)
        return _Answer(response.status, body, response.msg)

    def _connection(self, url: str, timeout: float) -> http.client.HTTPConnection:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        held = getattr(self._local, "held", None)
        if held is not None and (held[0] != key or _dropped(held[1])):
            self.close()
            held = None
        if held is None:
            if parts.scheme == "https":
                connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                    parts.netloc, timeout=timeout, context=self._context
                )
            else:
                connection = http.client.HTTPConnection(parts.netloc, timeout=timeout)
            held = self._local.held = (key, connection)
        held[1].timeout = timeout
        if held[1].sock is not None:
            held[1].sock.settimeout(timeout)
        return held[1]

    def close(self) -> None:
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None:
            held[1].close()


def direct(url: str) -> bool:
    """Whether requests to `url` go straight to its host: urllib would route them through a proxy named
    in the environment, which a kept connection does not."""
    parts = urlsplit(url)
    return not urllib.request.getproxies().get(parts.scheme) or bool(
        urllib.request.proxy_bypass(parts.hostname or "")
    )
