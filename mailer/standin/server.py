"""A local stand-in for SendGrid's v3 mail-send API, its signed Event Webhook and its bounce list.

Real HTTP on a real socket, so the official `sendgrid` client, timeouts and dropped connections behave as
they would against api.sendgrid.com. Order of checks per request: bearer key (401), body size (413), JSON
(400), injected fault (400/429/500/503, or slow), a refused recipient (a generic 400), recipient limits (always) and full validation (sampled),
then accept: record, queue webhook events, answer 202 - or, for a `drop` fault, close without answering.
"""

from __future__ import annotations

import contextlib
import json
import random
import secrets
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self, TextIO

import orjson
from cryptography.hazmat.primitives.asymmetric import ec

from mailer.standin import bounces, signing
from mailer.standin.faults import Faults
from mailer.standin.validate import _ADDRESS_FIELDS, check_limits, validate
from mailer.standin.webhook import EventStream, custom_args

MAX_BODY_BYTES = 30 * 1024 * 1024
RATE_LIMIT = 600  # what X-RateLimit-Limit reports; the stand-in only limits when a fault says so
AUTH_ERROR = "The provided authorization grant is invalid, expired, or revoked"


def _errors(message: str, field: str | None = None) -> dict:
    return {"errors": [{"message": message, "field": field, "help": None}]}


def _hung_up(connection: socket.socket) -> bool:
    """Whether the client has closed its end (a timeout, a killed process): readable, with nothing to read."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler asleep in a `slow` fault must not hold up stop()
    request_queue_size = 256  # benchmarks open many connections at once
    standin: StandIn

    def handle_error(self, request, client_address):
        pass  # clients that give up (timeouts, resets) are expected here; stay quiet


class _Handler(BaseHTTPRequestHandler):
    # keep-alive for clients that want it; every answer has a Content-Length
    protocol_version = "HTTP/1.1"
    server_version = "SendGridStandIn/1"
    sys_version = ""
    server: _Server

    def log_message(self, format, *args):
        pass  # the hot path must not write to stderr

    def _reply(self, status: int, body=None, headers: dict | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _read_body(self, length: int) -> bytes:
        return self.rfile.read(length) if length > 0 else b""

    def _drain(self, length: int) -> None:
        """Read and discard, so the client finishes sending and can read our answer (no reset)."""
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 20))
            if not chunk:
                break
            length -= len(chunk)

    def _length(self) -> int | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        return length if length >= 0 else None

    def do_GET(self):
        standin, path = self.server.standin, self.path.split("?", 1)[0]
        if path == "/healthz":
            self._reply(200, {"status": "ok"})
        elif path == "/_standin/recipients":
            self._reply(200, standin.recipients())
        elif path == "/_standin/stats":
            self._reply(200, standin.stats())
        else:
            self._reply(404, _errors("not found"))

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        if path == "/v3/mail/send":
            return self._mail_send()
        length = self._length()
        if length is None:
            self.close_connection = True
            return self._reply(400, _errors("Bad Content-Length"))
        self._drain(length)
        if path == "/_standin/reset":
            self.server.standin.reset()
            self._reply(200, {"reset": True})
        else:
            self._reply(404, _errors("not found"))

    def do_DELETE(self):
        standin, path = self.server.standin, self.path.split("?", 1)[0]
        self._drain(self._length() or 0)
        if not path.startswith(bounces.PATH):
            return self._reply(404, _errors("not found"))
        if self.headers.get("Authorization") != standin._bearer:
            return standin._answer(self, 401, _errors(AUTH_ERROR))
        if standin.bounces.forget(path):
            return standin._answer(self, 204)
        standin._answer(self, 404, _errors("Email not found in bounce list", "email"))

    def _mail_send(self) -> None:
        standin = self.server.standin
        length = self._length()
        if length is None:
            self.close_connection = True
            return standin._answer(self, 400, _errors("Bad Content-Length"))
        if self.headers.get("Authorization") != standin._bearer:
            self._drain(length)
            return standin._answer(self, 401, _errors(AUTH_ERROR))
        if length > MAX_BODY_BYTES:
            self._drain(length)
            return standin._answer(
                self,
                413,
                _errors("The JSON payload you have included in your request is too large.", None),
            )
        media_type = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            self._drain(length)
            return standin._answer(self, 415, _errors("Content-Type should be application/json."))
        try:
            payload = orjson.loads(self._read_body(length))
        except orjson.JSONDecodeError:
            return standin._answer(self, 400, _errors("Bad Request: the body is not valid JSON."))
        standin._mail_send(self, payload)


def _public(record: dict) -> dict:
    """An accepted request as accepted() shows it: custom_args per recipient."""
    shown = {k: v for k, v in record.items() if k not in ("shared_args", "own_args")}
    shown["recipients"], shown["custom_args"] = list(record["recipients"]), custom_args(record)
    return shown


class StandIn:
    """Serve in a background thread; read what was accepted through the thread-safe accessors."""

    def __init__(
        self,
        *,
        api_key: str = "SG.standin",
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | str | None = None,
        record_path: str | None = None,
        webhook_url: str | None = None,
        webhook_private_key: ec.EllipticCurvePrivateKey | None = None,
        bounce_rate: float = 0.0,
        soft_bounce_rate: float = 0.0,
        validate_sample: float = 1.0,
        seed: int = 0,
        slow_seconds: float = 5.0,
        webhook_batch_size: int = 1000,
        webhook_interval: float = 0.2,
        keep_payloads: bool = False,
        refuse: frozenset[str] = frozenset(),
        bounced: Iterable[str] = (),
    ):
        self.keep_payloads = keep_payloads
        # A request holding one of these addresses gets a 400 that names no field: the provider refusing
        # someone without saying whom (tests of the split that finds them).
        self.refuse = frozenset(refuse)
        self.api_key = api_key
        self._bearer = f"Bearer {api_key}"
        self.host, self.port = host, port
        self.faults = faults if isinstance(faults, Faults) else Faults(faults, seed=seed)
        self.record_path = record_path
        self.private_key = webhook_private_key or signing.generate_private_key()
        self.validate_sample = validate_sample
        self.slow_seconds = slow_seconds

        self._sample_rng = random.Random(seed + 1)  # separate from the fault draws, so both repeat
        self._lock = threading.Lock()
        self._accepted: list[dict] = []
        # One tuple of addresses per accepted request. Records are kept as tuples of strings, which drop
        # out of the garbage collector's sight: a million recipients cost it nothing. Kept as lists and
        # dicts, each full collection walked all of them, stalling every request for 30-70 ms.
        self._recipients: list[tuple[str, ...]] = []
        self._counts: Counter[str] = Counter()
        self._record_file: TextIO | None = None
        self.bounces = bounces.BounceList(bounced)
        self.events = (
            EventStream(
                webhook_url,
                self.private_key,
                bounce_rate=bounce_rate,
                soft_bounce_rate=soft_bounce_rate,
                batch_size=webhook_batch_size,
                interval=webhook_interval,
            )
            if webhook_url
            else None
        )
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []

    # lifecycle

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        if self.record_path:
            # kept open for the server's lifetime; closed in stop()
            self._record_file = open(self.record_path, "a", encoding="utf-8")  # noqa: SIM115
        self._server = _Server((self.host, self.port), _Handler)
        self._server.standin = self
        self.port = self._server.server_address[1]
        self._threads = [
            threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="standin-http",
                daemon=True,
            )
        ]
        if self.events is not None:
            self._threads.append(
                threading.Thread(
                    target=self.events.run,
                    args=(self._stopping,),
                    name="standin-webhook",
                    daemon=True,
                )
            )
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # also wakes handlers sleeping in a `slow` fault
        self._server.shutdown()
        self._server.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._server, self._threads = None, []
        with self._lock:
            if self._record_file:
                self._record_file.close()
                self._record_file = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # accessors (copies, taken under the lock)

    def accepted(self) -> list[dict]:
        with self._lock:
            return [_public(r) for r in self._accepted]

    def recipients(self) -> list[str]:
        """Every accepted recipient, repeated if accepted more than once: count these to find duplicates."""
        with self._lock:
            return [r for group in self._recipients for r in group]

    @property
    def requests_seen(self) -> dict[str, int]:
        """Mail-send requests by outcome: '202', '200' (sandbox), '400', '401', '413', '429', '500', '503',
        'drop'."""
        with self._lock:
            return dict(self._counts)

    def webhook_pending(self) -> int:
        return self.events.pending() if self.events is not None else 0

    def stats(self) -> dict:
        with self._lock:
            stats = {
                "requests": dict(self._counts),
                "accepted": len(self._accepted),
                "recipients": sum(map(len, self._recipients)),
            }
        stats["webhook_pending"] = self.webhook_pending()
        stats["webhook_posts"] = self.events.posts if self.events is not None else 0
        return stats

    def reset(self) -> None:
        with self._lock:
            self._accepted.clear()
            self._recipients.clear()
            self._counts.clear()
        if self.events is not None:
            self.events.clear()

    def public_key_b64(self) -> str:
        return signing.public_key_b64(self.private_key)

    # the mail-send path (called from handler threads)

    def _answer(self, handler: _Handler, status: int, body=None, headers=None) -> None:
        with self._lock:
            self._counts[str(status)] += 1
        handler._reply(status, body, headers)

    def _mail_send(self, handler: _Handler, payload) -> None:
        outcome = self.faults.next_outcome()
        if outcome == "429":
            return self._answer(
                handler,
                429,
                _errors("too many requests"),
                {
                    "X-RateLimit-Limit": str(RATE_LIMIT),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(int(time.time()) + 1),
                },
            )
        if outcome == "400" or self._refuses(payload):
            return self._answer(handler, 400, _errors("Bad Request"))
        if outcome in ("500", "503"):
            message = "internal server error" if outcome == "500" else "service unavailable"
            return self._answer(handler, int(outcome), _errors(message))
        if outcome == "slow":
            self._stopping.wait(self.slow_seconds)
            if _hung_up(handler.connection):
                return  # the client gave up (or died) before the request was complete: nothing is taken

        sandbox = bounces.enabled(payload, "sandbox_mode")
        with self._lock:
            full = (
                sandbox
                or self.validate_sample >= 1
                or self._sample_rng.random() < self.validate_sample
            )
        errors = validate(payload) if full else check_limits(payload)
        if errors:
            return self._answer(handler, 400, {"errors": errors})
        if sandbox:  # SendGrid: 200, validated but not queued for delivery
            return self._answer(handler, 200)

        message_id = self._accept(payload)
        if outcome == "hang":  # accepted; the answer waits (a client killed now never reads it)
            self._stopping.wait(self.slow_seconds)
        if outcome == "drop":
            with self._lock:
                self._counts["drop"] += 1
            handler.close_connection = True
            # accepted, but the answer is lost: the client sees the connection close
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            return
        self._answer(handler, 202, None, {"X-Message-Id": message_id})

    def _refuses(self, payload) -> bool:
        if not self.refuse or not isinstance(payload, dict):
            return False
        for p in payload.get("personalizations") or ():
            for kind in _ADDRESS_FIELDS:
                for entry in (p.get(kind) or ()) if isinstance(p, dict) else ():
                    if isinstance(entry, dict) and entry.get("email") in self.refuse:
                        return True
        return False

    def _accept(self, payload: dict) -> str:
        message_id = secrets.token_urlsafe(16)  # 22 url-safe characters, like SendGrid's ids
        shared = payload.get("custom_args") if isinstance(payload.get("custom_args"), dict) else {}
        each_recipient: list[str] = []
        each_own: list[tuple] = []
        for p in payload["personalizations"]:
            own = tuple(p["custom_args"].items()) if isinstance(p.get("custom_args"), dict) else ()
            for kind in _ADDRESS_FIELDS:
                for entry in p.get(kind) or ():
                    each_recipient.append(entry["email"])
                    each_own.append(own)
        recipients, own_args = tuple(each_recipient), tuple(each_own)
        sender = payload.get("from")
        categories = payload.get("categories")
        if not isinstance(categories, list):
            categories = []
        # Each recipient's custom_args are the request's with their personalization's on top; they are
        # merged only when read (accepted(), webhook events), as a send of 1M would pay for it otherwise.
        record = {
            "message_id": message_id,
            "recipients": recipients,
            "shared_args": shared,
            "own_args": own_args,
            "subject": payload.get("subject"),
            "from": sender.get("email") if isinstance(sender, dict) else None,
            "categories": list(categories),
            "personalizations": len(payload["personalizations"]),
            "bypass_bounces": bounces.enabled(payload, "bypass_bounce_management"),
        }
        # whole requests, for tests that check what a message would look like
        if self.keep_payloads:
            record["payload"] = payload
        line = None
        # who got the request, and its shared custom_args (issue, edition, batch)
        if self.record_path:
            line = orjson.dumps(
                {"message_id": message_id, "recipients": recipients, "custom_args": shared},
                option=orjson.OPT_APPEND_NEWLINE,
            ).decode()
        with self._lock:
            self._accepted.append(record)
            self._recipients.append(recipients)
            if line and self._record_file:
                self._record_file.write(line)
                self._record_file.flush()  # other processes tail this file
        if self.events is not None:
            self.events.queue(record)
        return message_id
