"""The composition root: where a process's settings become its Runtime (database sessions, the
sender, the task dispatcher). Entry points (the CLI, `mailer serve`'s app factory, a Celery worker
or beat started by `mailer worker`/`mailer beat` or by `celery -A mailer.wiring`, `mailer demo`
through the CLI) call build_runtime once and hand the Runtime down. This is the one module that
knows every task module: the dispatchers run or publish their bodies."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from functools import cache, partial
from typing import TYPE_CHECKING, Any

from mailer.config import Settings, get_settings
from mailer.runtime import Runtime

if TYPE_CHECKING:
    from celery import Celery
    from fastapi import FastAPI

    from mailer.mail.senders import Sender

log = logging.getLogger(__name__)
# In process, a countdown (a retry's backoff, a reconciliation's grace period) is waited out here, for
# at most this long each time: the caller is a command or a request, not a worker with time to spare.
IN_PROCESS_MAX_WAIT = 5.0
IN_PROCESS_STORE_RETRIES = 5  # runs of a batch that lost the database, about 15 s in all


class InProcessDispatcher:
    """No broker: the task bodies run in the calling thread, once the rows they read are committed.

    What a body hands on (a retry, a split-off batch, a reconciliation) is queued, not called: the
    outermost call runs the queue in order of due time, waiting out each countdown up to
    IN_PROCESS_MAX_WAIT, so retries loop rather than nest."""

    beat_sweeps = False

    def __init__(self) -> None:
        self.runtime: Runtime | None = None  # set by build_runtime: the Runtime the bodies run on
        self._local = threading.local()  # each thread (a web request's) runs its own queue
        self._order = itertools.count()

    def send_batches(self, batch_ids: Sequence[int], countdown: float = 0.0) -> None:
        self._run(_retrying_send, batch_ids, countdown)

    def reconcile(self, batch_ids: Sequence[int], countdown: float = 0.0) -> None:
        from mailer.events.tasks import run_reconcile_batch

        self._run(run_reconcile_batch, batch_ids, countdown)

    def send_mails(self, mail_ids: Sequence[int], countdown: float = 0.0) -> str:
        from mailer.mail.transactional import run_send_mail

        outcome = self._run(run_send_mail, mail_ids, countdown)
        return "queued" if outcome is None else outcome

    def apply_events(self) -> None:
        from mailer.events.tasks import run_process_events

        self._run(lambda rt, _none: run_process_events(rt), [None], 0.0)

    def import_subscribers(self, job_id: int) -> None:
        from mailer.mail.imports import run_import

        self._run(run_import, [job_id], 0.0)

    def _run(self, body: Callable[[Runtime, Any], Any], args: Sequence, countdown: float) -> Any:
        """Queue a run of `body` per argument; the outermost call runs the queue and returns the last
        outcome (None when called from a body: the outer call runs it)."""
        jobs = self._jobs()
        due = time.monotonic() + countdown
        for arg in args:
            heapq.heappush(jobs, (due, next(self._order), body, arg))
        if getattr(self._local, "running", False) or not jobs:
            return None
        self._local.running, outcome = True, None
        try:
            while jobs:
                due, _, body, arg = heapq.heappop(jobs)
                wait = min(due - time.monotonic(), IN_PROCESS_MAX_WAIT)
                if wait > 0:
                    time.sleep(wait)
                assert self.runtime is not None  # bound by build_runtime
                outcome = body(self.runtime, arg)
        except BaseException:
            jobs.clear()  # as a task's exception would: nothing after it runs
            raise
        finally:
            self._local.running = False
        return outcome

    def _jobs(self) -> list:
        if not hasattr(self._local, "jobs"):
            self._local.jobs = []
        return self._local.jobs


def _retrying_send(rt: Runtime, batch_id: int) -> str:
    """In process, a batch whose run lost the database is run again here, as a worker's task is
    retried, each wait at most IN_PROCESS_MAX_WAIT: a blip costs seconds, and a longer outage ends
    the command with the database's error (the batch waits for the next send or resume)."""
    from mailer.delivery.batches import Interrupted
    from mailer.delivery.tasks import run_send_batch, store_retry_in

    lease, retries = None, 0
    while True:
        try:
            return run_send_batch(rt, batch_id, lease)
        except Interrupted as exc:
            if retries == IN_PROCESS_STORE_RETRIES:
                raise (exc.__cause__ or exc) from None
            lease = None if exc.leased_until is None else exc.leased_until.isoformat()
            time.sleep(min(store_retry_in(retries), IN_PROCESS_MAX_WAIT))
            retries += 1


class CeleryDispatcher:
    """A broker is configured: tasks are published to Celery's queues, and workers run them. With the
    broker down, what is not queued waits in the database, and beat's sweep queues it once it is back:
    one warning says so, not a traceback."""

    beat_sweeps = True

    def __init__(self, settings: Settings, celery: Celery | None = None) -> None:
        self.settings = settings
        self.runtime: Runtime | None = None
        self._celery = celery

    @property
    def celery(self) -> Celery:
        if self._celery is None:
            from mailer.celery_app import create_app

            self._celery = create_app(self.settings)
        return self._celery

    def _publish(self, task, args_list: Sequence, countdown: float, what: str, whats: str) -> list:
        """Publish a run of `task` per argument; returns the arguments not published (broker down)."""
        from mailer.celery_app import BROKER_DOWN

        args_list = list(args_list)
        for n, arg in enumerate(args_list):
            try:
                self.celery.send_task(
                    task.name,
                    args=() if arg is None else (arg,),
                    countdown=countdown or None,
                    queue=task.queue,
                )
            except BROKER_DOWN as exc:
                left = args_list[n:]
                log.warning(
                    "%d %s not queued, from %s %s on: broker unreachable (%s: %s); beat's sweep "
                    "queues them when it is back",
                    len(left),
                    whats,
                    what,
                    arg,
                    type(exc).__name__,
                    exc,
                    extra={"batch": arg} if what == "batch" else {},
                )
                return left
        return []

    def send_batches(self, batch_ids: Sequence[int], countdown: float = 0.0) -> None:
        from mailer.delivery.tasks import send_batch

        self._publish(send_batch, batch_ids, countdown, "batch", "batch(es)")

    def reconcile(self, batch_ids: Sequence[int], countdown: float = 0.0) -> None:
        from mailer.events.tasks import reconcile_batch

        self._publish(reconcile_batch, batch_ids, countdown, "batch", "batch(es)")

    def send_mails(self, mail_ids: Sequence[int], countdown: float = 0.0) -> str:
        from mailer.mail import transactional

        left = self._publish(transactional.send_mail, mail_ids, countdown, "outbox mail", "mail(s)")
        if not left:
            return "queued"
        assert self.runtime is not None
        with self.runtime.session() as session:
            transactional.unqueue(session, left)
        return "waiting"

    def apply_events(self) -> None:
        from mailer.celery_app import BROKER_DOWN
        from mailer.events.tasks import process_events

        # The events are committed: a 5xx now would only have SendGrid post them again. Beat's
        # apply-stored-events applies what is stored, once the broker is back.
        try:
            self.celery.send_task(process_events.name, queue=process_events.queue)
        except BROKER_DOWN as exc:
            log.warning(
                "webhook events stored, not yet applied: broker unreachable (%s: %s); beat's "
                "apply-stored-events applies them when it is back",
                type(exc).__name__,
                exc,
            )

    def import_subscribers(self, job_id: int) -> None:
        from mailer.mail import imports
        from subscribers import import_jobs

        if self._publish(imports.import_subscribers, [job_id], 0.0, "import job", "import job(s)"):
            assert self.runtime is not None
            with self.runtime.session() as session:
                import_jobs.fail_unqueued(session, job_id)


def dispatcher_for(
    settings: Settings, celery: Celery | None = None
) -> InProcessDispatcher | CeleryDispatcher:
    """Celery when a broker is configured, in-process otherwise."""
    if settings.broker_url:
        return CeleryDispatcher(settings, celery)
    return InProcessDispatcher()


def build_runtime(
    settings: Settings,
    *,
    sender: Sender | None = None,
    celery: Celery | None = None,
    kv_timeout: float = 2.0,
) -> Runtime:
    """The services of one process, from its settings (`sender`: another than the settings choose;
    `kv_timeout`: how long the key-value store may keep the process waiting on Redis)."""
    from mailer.db import session_factory
    from mailer.kv import open_store
    from mailer.mail.senders import get_sender

    tasks = dispatcher_for(settings, celery)
    runtime = Runtime(
        settings=settings,
        sessions=session_factory(settings.database_url, settings.database_pool_size),
        make_sender=(lambda: sender) if sender is not None else partial(get_sender, settings),
        tasks=tasks,
        kv=open_store(settings.broker_url, timeout=kv_timeout),
    )
    tasks.runtime = runtime
    return runtime


def celery_app(runtime: Runtime) -> Celery:
    """The Celery app a worker or beat runs, configured from `runtime`'s settings and carrying it: its
    tasks run on this Runtime, built once at the process's start (pool processes inherit it)."""
    from mailer.celery_app import app, configure

    configure(app, runtime.settings)
    app.mailer_runtime = runtime
    if isinstance(runtime.tasks, CeleryDispatcher):
        runtime.tasks._celery = app
    return app


@cache
def _app_from_environment() -> Celery:
    return celery_app(build_runtime(get_settings()))


def __getattr__(name: str) -> Any:
    """`celery -A mailer.wiring ...` (flower, `inspect ping`): Celery's own command line is this
    process's entry point, and finds the app, configured from the environment, as `app`."""
    if name == "app":
        return _app_from_environment()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def web_app() -> FastAPI:
    """`mailer serve`'s factory, called in each web process: worker processes are spawned afresh, so
    each reads its settings and sets up logging, as every mailer process does, before it makes the app."""
    import logging

    from mailer.logs import configure
    from mailer.runtime import freeze_startup_objects
    from mailer.web.app import create_app

    settings = get_settings()
    configure(settings, logging.INFO)
    # A sign-up or a login must not wait long on a broker that is down: a short timeout, then the
    # process's own counts.
    app = create_app(build_runtime(settings, kv_timeout=0.5))
    freeze_startup_objects()
    return app
