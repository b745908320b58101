"""What one process runs on: settings, database sessions, the sender, the key-value store and the
task dispatcher, built once by the process's entry point (the CLI, `create_app`, a Celery worker's
start, `mailer demo`) and handed down. Services take the parts they need as parameters."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session, sessionmaker

from mailer.config import Settings

if TYPE_CHECKING:
    from mailer.kv import Store
    from mailer.mail.senders import Sender


class Dispatcher(Protocol):
    """Where work goes after the rows that describe it are committed: Celery's queues when a broker
    is configured, the calling process otherwise. One implementation is chosen at start-up
    (mailer.wiring); each task has one body, whichever runs it. A countdown is in seconds."""

    # True where beat runs (with a broker): its sweep takes up batches left waiting, so a task need
    # not ask again itself.
    beat_sweeps: bool

    def send_batches(self, batch_ids: Sequence[int], countdown: float = 0.0) -> None: ...

    def reconcile(self, batch_ids: Sequence[int], countdown: float = 0.0) -> None: ...

    def send_mails(self, mail_ids: Sequence[int], countdown: float = 0.0) -> str:
        """Returns what became of them: in process the last mail's outcome ("sent", "failed",
        "skipped", "done"); with a broker "queued", or "waiting" when the broker is down."""
        ...

    def apply_events(self) -> None: ...

    def import_subscribers(self, job_id: int) -> None:
        """A desk upload's import (subscribers.import_jobs): in process it runs here and now, so
        the caller runs it off the web process's event loop."""
        ...


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    sessions: sessionmaker[Session]
    make_sender: Callable[[], Sender]
    tasks: Dispatcher
    kv: Store  # what processes share: rate limits, the login throttle, the send's counters

    @cached_property
    def sender(self) -> Sender:
        """Made when first asked for: a process that never sends (`mailer db upgrade`, the desk's
        pages) needs no SendGrid key."""
        return self.make_sender()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def freeze_startup_objects() -> None:
    """Everything loaded at start lives as long as the process: moving it out of the garbage
    collector's reach keeps each collection small. A send batch or a burst of requests allocates
    enough to make collections frequent, and each would walk the whole of Celery, SQLAlchemy,
    FastAPI and the rest."""
    gc.collect()
    gc.freeze()
