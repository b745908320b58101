"""The SendGrid v3 mail-send backend, through the official `sendgrid` client."""

from __future__ import annotations

import json
import time
import urllib.error

from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient

from mailer.config import Settings
from mailer.delivery.message import OutgoingBatch
from mailer.delivery.senders import SendError, SendResult


def build_payload(batch: OutgoingBatch, *, sandbox: bool = False) -> dict:
    """One personalization per recipient; the edition's content once. Text before HTML, as SendGrid requires."""
    payload = {
        "personalizations": [
            {
                "to": [{"email": r.email}],
                "substitutions": r.substitutions,
                "headers": r.headers,
                "custom_args": r.custom_args,
            }
            for r in batch.recipients
        ],
        "from": {"email": batch.from_email, "name": batch.from_name},
        "subject": batch.subject,
        "content": [{"type": "text/plain", "value": batch.text}, {"type": "text/html", "value": batch.html}],
    }
    if batch.reply_to:
        payload["reply_to"] = {"email": batch.reply_to}
    if batch.categories:
        payload["categories"] = list(batch.categories)
    if sandbox:
        payload["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return payload


def _errors(body) -> str:
    try:
        errors = json.loads(body or b"{}").get("errors", [])
        return "; ".join(f"{e.get('field') or '-'}: {e.get('message')}" for e in errors) or "no detail"
    except (ValueError, AttributeError):
        return "unreadable error body"


class SendGridSender:
    name = "sendgrid"

    def __init__(self, api_key: str, host: str, timeout: float, sandbox: bool = False):
        self.client = SendGridAPIClient(api_key=api_key, host=host)
        self.client.client.timeout = timeout  # the client has no timeout by default
        self.sandbox = sandbox

    @classmethod
    def from_settings(cls, settings: Settings) -> SendGridSender:
        key = settings.sendgrid_api_key.get_secret_value()
        if not key:
            raise SendError("MAILER_SENDGRID_API_KEY is not set", transient=False)
        return cls(key, settings.sendgrid_host, settings.sendgrid_timeout_seconds, settings.sendgrid_sandbox)

    def send(self, batch: OutgoingBatch) -> SendResult:
        try:
            response = self.client.client.mail.send.post(request_body=build_payload(batch, sandbox=self.sandbox))
        except http_errors.HTTPError as exc:
            status = exc.status_code
            detail = f"SendGrid answered {status}: {_errors(exc.body)}"
            if status == 429:
                reset = (exc.headers or {}).get("X-RateLimit-Reset")
                retry_after = max(0.0, float(reset) - time.time()) if reset else None
                raise SendError(detail, transient=True, retry_after=retry_after) from exc
            raise SendError(detail, transient=status >= 500) from exc
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            raise SendError(f"SendGrid unreachable: {exc}", transient=True) from exc
        return SendResult(message_id=response.headers.get("X-Message-Id"))
