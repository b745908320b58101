"""The stand-in's signed Event Webhook: for each accepted request, a `processed` event per recipient
and then a `delivered` (or `bounce`) one, posted in batches from a thread of its own, signed as SendGrid
signs them; a post that fails is retried, in order, as SendGrid retries.

Bounces are one event, as SendGrid sends them: `bounce` with `type` `bounce` (the address is refused,
5.x.x) or `type` `blocked` (this message was refused: a soft bounce). SendGrid has no event `blocked`."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import deque

from cryptography.hazmat.primitives.asymmetric import ec

from mailer.standin import signing


def custom_args(record: dict) -> list[dict]:
    """Each recipient's custom_args: the request's, with their personalization's on top."""
    shared = record["shared_args"]
    return [{**shared, **dict(own)} for own in record["own_args"]]


def _bounces(email: str, rate: float, salt: bytes = b"") -> bool:
    """Repeatable per address, so a test or a demo sees the same bounces every run."""
    if rate <= 0:
        return False
    digest = hashlib.sha256(salt + email.lower().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


HARD_BOUNCE = {
    "event": "bounce",
    "type": "bounce",
    "status": "5.1.1",
    "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
}
SOFT_BOUNCE = {
    "event": "bounce",
    "type": "blocked",
    "status": "4.7.1",
    "reason": "421 4.7.1 Messages from this sender are temporarily deferred due to policy.",
}


class EventStream:
    def __init__(
        self,
        url: str,
        private_key: ec.EllipticCurvePrivateKey,
        *,
        bounce_rate: float = 0.0,
        soft_bounce_rate: float = 0.0,
        batch_size: int = 1000,
        interval: float = 0.2,
    ):
        self.url, self.private_key, self.bounce_rate = url, private_key, bounce_rate
        self.soft_bounce_rate = soft_bounce_rate
        self.batch_size, self.interval = max(1, batch_size), interval
        self._events: deque[dict] = deque()
        self._events_lock = threading.Lock()
        self.posts = 0
        # no proxies: the webhook receiver is local, and an http_proxy in the environment must not reroute it
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def pending(self) -> int:
        with self._events_lock:
            return len(self._events)

    def clear(self) -> None:
        with self._events_lock:
            self._events.clear()

    def queue(self, record: dict) -> None:
        """An accepted request's events: every `processed` first, then each recipient's outcome."""
        now = int(time.time())
        message_id = record["message_id"]
        processed, outcomes = [], []
        # custom_args are flattened into each event, as SendGrid does (_custom_args makes a fresh dict each)
        for n, (email, base) in enumerate(
            zip(record["recipients"], custom_args(record), strict=False)
        ):
            base.update(
                {
                    "email": email,
                    "timestamp": now,
                    "smtp-id": f"<{message_id}@standin.sendgrid.local>",
                    "sg_message_id": f"{message_id}.{n}",
                }
            )
            if record["categories"]:
                base["category"] = record["categories"]
            processed.append(
                {**base, "event": "processed", "sg_event_id": secrets.token_urlsafe(16)}
            )
            if _bounces(email, self.bounce_rate):
                outcomes.append({**base, **HARD_BOUNCE, "sg_event_id": secrets.token_urlsafe(16)})
            elif _bounces(email, self.soft_bounce_rate, b"soft:"):
                outcomes.append({**base, **SOFT_BOUNCE, "sg_event_id": secrets.token_urlsafe(16)})
            else:
                outcomes.append(
                    {
                        **base,
                        "event": "delivered",
                        "sg_event_id": secrets.token_urlsafe(16),
                        "response": "250 OK",
                    }
                )
        with self._events_lock:
            self._events.extend(processed)  # every processed event precedes the request's outcomes
            self._events.extend(outcomes)

    def run(self, stopping: threading.Event) -> None:
        """Post what is queued every `interval` seconds until `stopping` is set."""
        while not stopping.wait(self.interval):
            self._flush_events(timeout=5.0)
        self._flush_events(timeout=1.0)  # one last try on the way out

    def _flush_events(self, timeout: float) -> None:
        while True:
            with self._events_lock:
                n = min(self.batch_size, len(self._events))
                batch = [self._events.popleft() for _ in range(n)]
            if not batch:
                return
            if not self._post_events(batch, timeout):
                with (
                    self._events_lock
                ):  # SendGrid retries; put them back, in order, for the next round
                    self._events.extendleft(reversed(batch))
                return

    def _post_events(self, batch: list[dict], timeout: float) -> bool:
        body = json.dumps(batch, separators=(",", ":")).encode("utf-8")
        timestamp = str(int(time.time()))
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "SendGrid Event API",
                signing.SIGNATURE_HEADER: signing.sign(body, timestamp, self.private_key),
                signing.TIMESTAMP_HEADER: timestamp,
            },
        )
        try:
            with self._opener.open(request, timeout=timeout) as response:
                response.read()
                ok = 200 <= response.status < 300
        except (urllib.error.URLError, OSError, ValueError):
            ok = False
        if ok:
            with self._events_lock:
                self.posts += 1
        return ok
