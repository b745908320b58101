"""The composition root: what build_runtime makes of a process's settings."""

import pytest

from mailer.kv import MemoryStore
from mailer.mail.senders import OutboxSender, SendError
from mailer.wiring import CeleryDispatcher, InProcessDispatcher, build_runtime


def test_no_broker_runs_tasks_in_process_and_keeps_counts_in_memory(settings):
    runtime = build_runtime(settings)
    assert isinstance(runtime.tasks, InProcessDispatcher)
    assert isinstance(runtime.kv, MemoryStore)
    assert isinstance(runtime.sender, OutboxSender) and runtime.sender is runtime.sender


def test_a_broker_chooses_celery(settings, redis_url):
    runtime = build_runtime(settings.model_copy(update={"broker_url": redis_url}))
    assert isinstance(runtime.tasks, CeleryDispatcher)


def test_a_process_that_never_sends_needs_no_sendgrid_key(settings):
    """`mailer db upgrade` or the desk's pages with the SendGrid backend and no key: the runtime is
    built; only asking it for the sender says what is missing."""
    runtime = build_runtime(settings.model_copy(update={"mail_backend": "sendgrid"}))
    with runtime.session() as session:
        assert session.connection() is not None
    with pytest.raises(SendError, match="MAILER_SENDGRID_API_KEY"):
        runtime.sender  # noqa: B018
