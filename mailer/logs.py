"""Logging for every process: JSON lines in production (for a log pipeline), plain text otherwise.

Each record carries the Celery task id when there is one, and whatever `extra` ids the caller gave
(issue, batch). Secrets never reach a log line, nor do subscribers' addresses: lines name ids.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from mailer.config import Settings

CONTEXT_FIELDS = ("issue", "edition", "batch", "delivery", "task_id", "task")
# The id a task's first argument names, so every line a task logs carries it without each call saying so.
TASK_ARG_FIELD = {"mailer.send_batch": "batch", "mailer.reconcile_batch": "batch"}


def json_lines(settings: Settings) -> bool:
    """JSON lines (for a log pipeline) in production or when MAILER_LOG_FORMAT=json; text otherwise."""
    return settings.env == "production" or settings.log_format == "json"


class TaskContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            from celery import current_task

            if current_task and current_task.request.id and not getattr(record, "task_id", None):
                record.task_id, record.task = current_task.request.id, current_task.name
                field, args = TASK_ARG_FIELD.get(current_task.name), current_task.request.args
                if field and args and getattr(record, field, None) is None:
                    setattr(record, field, args[0])
        except Exception:  # noqa: BLE001, S110 - logging must never fail a task
            pass
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            {k: getattr(record, k) for k in CONTEXT_FIELDS if getattr(record, k, None) is not None}
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{k}={getattr(record, k)}"
            for k in CONTEXT_FIELDS
            if getattr(record, k, None) is not None
        )
        return f"{line} [{context}]" if context else line


def configure(settings: Settings, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(TaskContext())
    handler.setFormatter(
        JsonFormatter()
        if json_lines(settings)
        else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    logging.captureWarnings(
        True
    )  # Python warnings (Celery's running-as-root one) as log lines, not raw stderr
    root.setLevel(level)
    # python_http_client (under `sendgrid`) logs every request's headers at DEBUG, the API key among them
    for noisy in ("httpx", "urllib3", "kombu", "amqp", "python_http_client"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
