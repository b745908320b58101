"""The Sender interface and its implementations, chosen by MAILER_MAIL_BACKEND."""

from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

from mailer.config import Settings
from mailer.mail.message import OutgoingBatch, to_mime


@dataclass
class SendResult:
    message_id: str | None = None
    invalid: list[int] = field(default_factory=list)  # delivery ids the provider refused by address
    status: str = "ok"  # for metrics: the provider's answer ("202"), or the backend's name


class SendError(Exception):
    """A request that did not end in acceptance; `kind` says what the batch should do about it."""

    TRANSIENT = "transient"  # nothing was sent (429, 5xx, refused connection): retry with backoff
    UNKNOWN = "unknown"  # sent, answer lost (timeout, reset): reconcile from webhook events before resending
    INVALID = "invalid"  # 400 naming personalizations: drop those recipients, resend the rest
    TOO_LARGE = "too_large"  # 413: split the batch
    AUTH = "auth"  # 401/403: no batch can succeed; pause the issue for an operator
    PERMANENT = "permanent"  # anything else: fail the batch and report it

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        retry_after: float | None = None,
        invalid: tuple[int, ...] = (),
        status: str = "error",
    ):
        super().__init__(message)
        self.kind = kind
        self.status = status  # for metrics: the HTTP status, or "lost" / "refused"
        self.retry_after = retry_after
        self.invalid = invalid  # indexes of the refused recipients, in the batch's order

    @property
    def transient(self) -> bool:
        return self.kind == self.TRANSIENT


def backoff(attempt: int, base: float = 2.0, cap: float = 600.0) -> float:
    """Exponential with full jitter, so retrying workers do not stampede together."""
    return random.uniform(0, min(cap, base * 2**attempt))


class Sender(Protocol):
    name: str

    def send(self, batch: OutgoingBatch) -> SendResult: ...

    def forget_bounce(self, email: str) -> None:
        """Take the address off the provider's own bounce list (done when it is not on it), so that its
        mail is no longer dropped there. SendError when it could not be done."""
        ...


class OutboxSender:
    """Writes one .eml per recipient. Files are named by delivery id: a re-run overwrites, never adds."""

    name = "outbox"

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def path_for(self, batch: OutgoingBatch, delivery_id: int) -> Path:
        folder = batch.folder or f"issue-{batch.issue_number}"
        return self.directory / folder / batch.lang / f"{delivery_id}.eml"

    def send(self, batch: OutgoingBatch) -> SendResult:
        for rcpt in batch.recipients:
            path = self.path_for(batch, rcpt.delivery_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(to_mime(batch, rcpt))
            os.replace(tmp, path)  # atomic: a reader never sees half a message
        return SendResult(message_id=f"outbox-{batch.batch_id or batch.folder}", status="outbox")

    def forget_bounce(self, email: str) -> None:
        pass  # no provider, no bounce list


class ConsoleSender:
    """Prints each message to a stream: for development."""

    name = "console"

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def send(self, batch: OutgoingBatch) -> SendResult:
        for rcpt in batch.recipients:
            self.stream.write(to_mime(batch, rcpt).decode("utf-8", "replace") + "\n")
        self.stream.flush()
        return SendResult(message_id=f"console-{batch.batch_id or batch.folder}", status="console")

    def forget_bounce(self, email: str) -> None:
        pass  # no provider, no bounce list


def get_sender(settings: Settings) -> Sender:
    """The sender MAILER_MAIL_BACKEND chooses."""
    if settings.mail_backend == "outbox":
        return OutboxSender(settings.outbox_dir)
    if settings.mail_backend == "console":
        return ConsoleSender()
    from mailer.mail.sendgrid import SendGridSender

    return SendGridSender.from_settings(settings)
