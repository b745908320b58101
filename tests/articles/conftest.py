"""A local HTTP server for feed tests: each path is a function of the request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drip: float = 0.0  # seconds between the body's bytes, sent one at a time


class FeedServer:
    def __init__(self):
        self.routes: dict[str, Callable[[dict[str, str]], Reply]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append((self.path, headers))
                route = server.routes.get(self.path)
                reply = route(headers) if route else Reply(404, b"not found")
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    if v != "":
                        self.send_header(k, v)
                if "Content-Length" not in reply.headers:
                    self.send_header("Content-Length", str(len(reply.body)))
                elif (
                    reply.headers["Content-Length"] == ""
                ):  # say nothing: the body ends when the connection does
                    pass
                self.end_headers()
                try:
                    for part in (
                        [reply.body[i : i + 1] for i in range(len(reply.body))]
                        if reply.drip
                        else [reply.body]
                    ):
                        self.wfile.write(part)
                        self.wfile.flush()
                        time.sleep(reply.drip)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # a short poll: shutdown() waits for it, at every test's end
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def add(self, path: str, reply: Reply | Callable[[dict[str, str]], Reply]) -> str:
        self.routes[path] = reply if callable(reply) else (lambda _headers, r=reply: r)
        return self.url + path

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feed_server():
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def limits(monkeypatch, settings):
    """Change the test's settings: limits(feed_timeout_seconds=1)."""

    def set_limits(**values):
        for key, value in values.items():
            monkeypatch.setattr(settings, key, value)

    return set_limits
