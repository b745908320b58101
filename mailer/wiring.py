"""The composition root: where a process's settings become its Runtime (database sessions, the
sender, the task dispatcher). Entry points (the CLI, `mailer serve`'s app factory, a Celery
worker's start, `mailer demo` through the CLI) call build_runtime once and hand the Runtime down."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailer.config import Settings, get_settings
from mailer.runtime import Dispatcher, Runtime

if TYPE_CHECKING:
    from fastapi import FastAPI


class InProcessDispatcher:
    """No broker: each task runs in the calling process, after the rows it reads are committed."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def send_batches(self, batch_ids: Sequence[int], countdown: float = 0.0) -> None:
        from mailer.delivery.tasks import enqueue

        enqueue(list(batch_ids), self.settings)

    def reconcile(self, batch_ids: Sequence[int], countdown: float = 0.0) -> None:
        from mailer.delivery.tasks import reconcile_later

        reconcile_later(list(batch_ids), self.settings, countdown)

    def send_mails(self, mail_ids: Sequence[int]) -> None:
        from mailer.mail.transactional import dispatch

        dispatch(list(mail_ids))

    def apply_events(self) -> None:
        from mailer.events.tasks import enqueue_processing

        enqueue_processing()


class CeleryDispatcher(InProcessDispatcher):
    """A broker is configured: tasks go on Celery's queues, and workers run them."""


def dispatcher_for(settings: Settings) -> Dispatcher:
    return CeleryDispatcher(settings) if settings.broker_url else InProcessDispatcher(settings)


def build_runtime(settings: Settings) -> Runtime:
    """The services of one process, from its settings."""
    from mailer.db import session_factory
    from mailer.mail.senders import get_sender

    return Runtime(
        settings=settings,
        sessions=session_factory(settings.database_url, settings.database_pool_size),
        sender=get_sender(settings),
        tasks=dispatcher_for(settings),
    )


def web_app() -> FastAPI:
    """`mailer serve`'s factory, called in each web process: worker processes are spawned afresh, so
    each reads its settings and sets up logging, as every mailer process does, before it makes the app."""
    import logging

    from mailer.logs import configure
    from mailer.runtime import freeze_startup_objects
    from mailer.web.app import create_app

    settings = get_settings()
    configure(settings, logging.INFO)
    app = create_app(build_runtime(settings))
    freeze_startup_objects()
    return app
