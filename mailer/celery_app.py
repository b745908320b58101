"""The Celery app: queues ingest/assemble/mail/send/events, JSON only, late acks, and the beat schedule.

The app is configured by the process's entry point (mailer.wiring) from its Settings, and carries that
process's Runtime for the tasks to run on. With MAILER_BROKER_URL empty Celery is not used at all:
mailer.wiring's in-process dispatcher runs the same task bodies.
"""

from __future__ import annotations

import contextlib
import random
import threading
from typing import TYPE_CHECKING

from celery import Celery, signals
from celery.schedules import crontab
from kombu import Queue
from redis.exceptions import RedisError

from mailer.broker import (  # noqa: F401  (re-exported: what callers knew from here)
    BEAT_TICK_KEY,
    BROKER_DOWN,
    HEARTBEAT_SECONDS,
    HEARTBEATS_KEY,
    QUEUES,
    beat_heart,
)
from mailer.config import Settings

if TYPE_CHECKING:
    from mailer.runtime import Runtime

# A task that loses the database or the broker (a restart, a failover) is retried this many times,
# 1 + 2 + ... + 60 s: about four minutes, after which beat's sweeps take its work up.
STORE_RETRIES = 10
STORE_RETRY_CAP = 60.0
TASK_MODULES = (
    "mailer.articles.tasks",
    "mailer.issues.tasks",
    "mailer.delivery.tasks",
    "mailer.events.tasks",
    "mailer.mail.transactional",
    "mailer.mail.imports",
    "mailer.events.sunset_task",
)


def store_retry_in(retries: int) -> float:
    """Seconds before retry number `retries` (from 0) of a task that lost the database or the broker:
    doubling from 1 s up to a minute, each with jitter so the workers of a whole send do not all come
    back in the same instant, and never so little that a retry lands inside the same outage."""
    return min(STORE_RETRY_CAP, 2.0**retries) * random.uniform(0.5, 1.0)


def beat_schedule(settings: Settings) -> dict:
    return {
        "ingest-feeds": {
            "task": "mailer.ingest_all",
            "schedule": settings.ingest_interval_minutes * 60.0,
        },
        "draft-weekly-issue": {
            "task": "mailer.draft_issue",
            "schedule": crontab(
                minute=0,
                hour=settings.digest_hour,
                day_of_week=(settings.digest_weekday + 1) % 7,
            ),
        },
        # Per-edition send times live in the database, not here: this tick only asks what is due.
        "send-due-editions": {
            "task": "mailer.send_due",
            "schedule": settings.schedule_tick_seconds,
        },
        "sweep-batches": {
            "task": "mailer.sweep_batches",
            "schedule": settings.maintenance_interval_seconds,
        },
        # Once a day, at the digest hour (a working hour): editions that nobody gave a send time.
        "warn-unscheduled-editions": {
            "task": "mailer.warn_unscheduled",
            "schedule": crontab(minute=30, hour=settings.digest_hour),
        },
        # Webhook events are stored before the 2xx and applied by a task; one lost with the broker
        # leaves them stored, and this applies them (a reconciliation waits for it).
        "apply-stored-events": {
            "task": "mailer.process_events",
            "schedule": settings.maintenance_interval_seconds,
        },
        # Retention: old raw events and ledger rows go, their figures rolled up first (events/retention.py)
        "prune-old-rows": {
            "task": "mailer.prune",
            "schedule": crontab(minute=15, hour=settings.prune_hour),
        },
        # Readers who stopped reading: asked once, paused without an answer (subscribers.sunset)
        "sunset-readers": {
            "task": "mailer.sunset",
            "schedule": crontab(minute=45, hour=settings.prune_hour),
        },
        # Behind a busy `assemble` worker, a refresh older than the next one is dropped, not run back to back.
        "refresh-issue-counts": {
            "task": "mailer.refresh_issue_counts",
            "schedule": settings.stats_refresh_seconds,
            "options": {"expires": settings.stats_refresh_seconds},
        },
    }


def configure(celery: Celery, settings: Settings) -> Celery:
    """Set `celery` up for a broker from `settings`: queues, serialization, acks and the beat schedule."""
    from mailer.redis_client import celery_broker

    broker_url, transport = celery_broker(settings.broker_url or "memory://")
    celery.conf.update(
        broker_url=broker_url,
        mailer_broker_url=settings.broker_url,  # as given: a sentinel:// URL is kombu's no more
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,  # a task is acknowledged when done, so a dead worker's task runs again
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="send",
        broker_connection_retry_on_startup=True,
        # A batch that outlives its lease is taken up by beat's sweep-batches; Redis must not
        # redeliver an unacked task much sooner than that.
        broker_transport_options={
            "visibility_timeout": max(3600, 2 * settings.batch_lease_seconds),
            **transport,
        },
        timezone=settings.digest_timezone,
        enable_utc=True,
        beat_schedule=beat_schedule(settings),
        worker_hijack_root_logger=False,
    )
    return celery


def create_app(settings: Settings) -> Celery:
    """A Celery app of its own for `settings` (the tasks, declared shared, are registered on it too)."""
    return configure(Celery("mailer", include=list(TASK_MODULES)), settings)


# The app the task modules declare their tasks on, and the one a worker or beat runs: configured, and
# given the process's Runtime, by mailer.wiring when the process starts.
app = Celery("mailer", include=list(TASK_MODULES))


def runtime_of(celery: Celery) -> Runtime:
    """The Runtime a worker's tasks run on, built once by the process's entry point (mailer.wiring)."""
    runtime = getattr(celery, "mailer_runtime", None)
    if runtime is None:
        raise RuntimeError(
            "this Celery app was not started through mailer.wiring: it has no Runtime"
        )
    return runtime


def _settings() -> Settings | None:
    runtime = getattr(app, "mailer_runtime", None)
    return runtime.settings if runtime is not None else None


@signals.setup_logging.connect
def _logging(loglevel=None, **_kwargs):
    """Workers and beat log through mailer.logs (JSON in production), not Celery's own format."""
    import logging

    from mailer.logs import configure

    settings = _settings()
    if settings is not None:
        configure(settings, loglevel or logging.INFO)


def quiet(settings: Settings) -> list[str]:
    """Celery's start-up banner is print()ed, not logged: where logs are JSON lines it is left out (the
    `--quiet` this returns), and _started logs what it says as one line."""
    from mailer.logs import json_lines

    return ["--quiet"] if json_lines(settings) else []


@signals.celeryd_after_setup.connect
def _worker_started(sender=None, instance=None, **_kwargs):
    import logging

    celery = instance.app
    logging.getLogger("mailer.worker").info(
        "worker %s started: queues %s, concurrency %s, broker %s",
        sender,
        ",".join(sorted(celery.amqp.queues.consume_from)),
        instance.concurrency,
        celery.connection_for_write().as_uri(),
    )  # as_uri() hides the password


@signals.worker_ready.connect
def _say_shutdown_in_the_log(sender=None, **_kwargs):
    """Celery print()s "worker: Warm shutdown" from its signal handler: where logs are JSON, the handler is
    installed again without that line, and _shutting_down logs it instead."""
    settings = _settings()
    if settings is None or not quiet(settings):
        return
    from celery.apps import worker as celery_worker

    celery_worker.install_worker_term_handler(sender.controller, verbose=False)


@signals.worker_shutting_down.connect
def _shutting_down(sender=None, how=None, sig=None, **_kwargs):
    import logging

    _HEARTBEAT_STOP.set()
    for (
        beating
    ) in _HEARTBEAT_THREADS:  # it takes the worker's entry out: a stopped worker is gone at once
        beating.join(timeout=2.0)
    logging.getLogger("mailer.worker").info("worker %s: %s shutdown (%s)", sender, how, sig)


# Set when the worker shuts down: its heartbeat thread stops and takes its entry out.
_HEARTBEAT_STOP = threading.Event()
_HEARTBEAT_THREADS: list[threading.Thread] = []


@signals.worker_ready.connect
def _start_heartbeat(sender=None, **_kwargs):
    from mailer.redis_client import client, is_redis

    url = sender.app.conf.broker_url if sender is not None else None
    if not url or not is_redis(url):
        return
    name, queues = sender.hostname, list(sender.app.amqp.queues.consume_from)
    _HEARTBEAT_STOP.clear()
    beating = threading.Thread(
        target=_heartbeat_loop, args=(client(url), name, queues), name="heartbeat", daemon=True
    )
    _HEARTBEAT_THREADS[:] = [beating]
    beating.start()


def _heartbeat_loop(redis_client, name: str, queues: list[str]) -> None:
    import time

    from celery.worker import state

    while True:
        active = [
            {"task": r.name, "args": getattr(r, "argsrepr", None)}
            for r in list(state.active_requests)
        ]
        with contextlib.suppress(RedisError, OSError):  # a broker away: the next beat says it again
            beat_heart(redis_client, name, queues, active, time.time())
        if _HEARTBEAT_STOP.wait(HEARTBEAT_SECONDS):
            break
    with contextlib.suppress(RedisError, OSError):
        redis_client.hdel(HEARTBEATS_KEY, name)


@signals.beat_init.connect
def _beat_started(sender=None, **_kwargs):
    import logging

    celery = sender.app
    signals.before_task_publish.connect(_beat_ticked, weak=False)  # in beat's process only
    logging.getLogger("mailer.beat").info(
        "beat started: %s, broker %s",
        ", ".join(sorted(celery.conf.beat_schedule)),
        celery.connection_for_write().as_uri(),
    )


def _beat_ticked(**_kwargs):
    """Each task beat publishes stamps Redis: /metrics' mailer_beat_last_tick_timestamp_seconds (beat silent)."""
    import time

    from mailer.redis_client import client, is_redis

    url = app.conf.get("mailer_broker_url") or app.conf.broker_url
    if is_redis(url):
        # the broker is down: the publish itself fails, and the alert on a stale tick is right
        with contextlib.suppress(RedisError):
            client(url).set(BEAT_TICK_KEY, time.time())


@signals.worker_process_init.connect
def _own_connections(**_kwargs):
    """A forked pool process opens database connections of its own, never its parent's."""
    runtime = getattr(app, "mailer_runtime", None)
    if runtime is not None:
        runtime.sessions.kw["bind"].dispose(close=False)


@signals.worker_ready.connect
@signals.worker_process_init.connect
def _freeze_startup_objects(**_kwargs):
    from mailer.runtime import freeze_startup_objects

    freeze_startup_objects()
