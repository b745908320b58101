"""The Celery app's settings, and a real worker on Redis sending an issue."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from mailer.celery_app import QUEUES, create_app
from mailer.config import Settings
from tests.factories import shown_statuses


def test_app_is_configured_for_safe_delivery():
    conf = create_app(Settings(_env_file=None, broker_url="redis://127.0.0.1:6379/0")).conf
    assert conf.broker_url == "redis://127.0.0.1:6379/0" and not conf.task_always_eager
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert (
        {q.name for q in conf.task_queues}
        == set(QUEUES)
        == {"ingest", "assemble", "mail", "send", "events"}
    )
    assert {
        "ingest-feeds",
        "draft-weekly-issue",
        "sweep-batches",
        "apply-stored-events",
        "refresh-issue-counts",
    } <= set(conf.beat_schedule)
    refresh = conf.beat_schedule[
        "refresh-issue-counts"
    ]  # one left waiting past the next is dropped
    assert refresh["options"]["expires"] == refresh["schedule"] == 60


def test_every_scheduled_task_exists():
    app = create_app(Settings(_env_file=None))
    app.loader.import_default_modules()
    assert app.conf.beat_schedule
    assert {entry["task"] for entry in app.conf.beat_schedule.values()} <= set(app.tasks)


def test_beat_prunes_daily_at_the_configured_hour_on_the_assemble_queue():
    app = create_app(Settings(_env_file=None, prune_hour=4))
    app.loader.import_default_modules()
    entry = app.conf.beat_schedule["prune-old-rows"]
    assert entry["task"] == "mailer.prune" and app.tasks["mailer.prune"].queue == "assemble"
    assert entry["schedule"].hour == {4} and entry["schedule"].minute == {15}


def test_ingest_interval_is_configurable():
    conf = create_app(Settings(_env_file=None, ingest_interval_minutes=5)).conf
    assert conf.beat_schedule["ingest-feeds"]["schedule"] == 300
    assert (
        create_app(Settings(_env_file=None)).conf.beat_schedule["ingest-feeds"]["schedule"] == 900
    )


def test_without_a_broker_tasks_run_in_process():
    from mailer.wiring import CeleryDispatcher, InProcessDispatcher, build_runtime

    assert isinstance(
        build_runtime(Settings(_env_file=None, broker_url="")).tasks, InProcessDispatcher
    )
    with_broker = Settings(_env_file=None, broker_url="redis://127.0.0.1:6379/0")
    assert isinstance(build_runtime(with_broker).tasks, CeleryDispatcher)


def test_tasks_are_registered_on_their_queues():
    app = create_app(Settings(_env_file=None, broker_url="redis://127.0.0.1:6379/0"))
    app.loader.import_default_modules()
    for name, queue in (
        ("mailer.send_batch", "send"),
        ("mailer.ingest_all", "ingest"),
        ("mailer.draft_issue", "assemble"),
        ("mailer.sweep_batches", "send"),
        ("mailer.reconcile_batch", "send"),
        ("mailer.import_subscribers", "ingest"),
    ):
        assert name in app.tasks and app.tasks[name].queue == queue


@pytest.mark.celery
@pytest.mark.slow
def test_a_real_worker_on_redis_sends_an_issue_to_everyone_once(
    session, ingested, subscribers_by_lang, settings, redis_url
):
    from mailer.db import utcnow
    from mailer.delivery.models import Batch, BatchStatus
    from mailer.issues.models import Issue
    from mailer.issues.service import draft_issue

    broker = redis.Redis.from_url(redis_url)
    broker.flushdb()
    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    env = {
        **os.environ,
        "MAILER_BROKER_URL": redis_url,
        "MAILER_OUTBOX_DIR": settings.outbox_dir,
        "MAILER_BATCH_SIZE": "2",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mailer.cli",
            "worker",
            "-Q",
            "send",
            "-c",
            "2",
            "--loglevel",
            "warning",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        sent = subprocess.run(
            [sys.executable, "-m", "mailer.cli", "issue", "send", str(issue.number), "--wait"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert sent.returncode == 0, sent.stderr
        assert f"issue #{issue.number}: sent" in sent.stdout
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            log = worker.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            worker.kill()
            log = worker.communicate()[0]
    assert "Traceback" not in log, log
    session.expire_all()
    assert session.get(Issue, issue.id).status == "sent"
    batches = session.scalars(select(Batch)).all()
    assert len(batches) == 5 and all(b.status == BatchStatus.ACCEPTED for b in batches)
    assert set(shown_statuses(session)) == {"sent"}
    emls = list(Path(settings.outbox_dir).rglob("*.eml"))
    assert len(emls) == sum(subscribers_by_lang.values()) == 9


@pytest.mark.celery
@pytest.mark.slow
@pytest.mark.parametrize(
    "command", [["worker", "-Q", "send", "-P", "solo", "-n", "jsonlog@%h"], ["beat"]]
)
def test_worker_and_beat_write_only_json_lines_where_logs_are_json(
    settings, redis_url, tmp_path, command
):
    """Celery's banner is print()ed: with JSON logs it is left out, and one JSON line says it started."""
    import json
    import time

    env = {**os.environ, "MAILER_BROKER_URL": redis_url, "MAILER_LOG_FORMAT": "json"}
    up = " started: "
    if command == ["beat"]:
        command = ["beat", "--schedule", str(tmp_path / "beat-schedule")]
    else:
        up = " ready."  # consuming, its own signal handlers installed
    log_path = tmp_path / "out.log"
    with open(log_path, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailer.cli", *command],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while up not in log_path.read_text() and time.monotonic() < deadline:
                assert proc.poll() is None, log_path.read_text()
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line, the banner's too
    [started] = [r for r in records if " started: " in r["message"]]
    assert started["level"] == "info" and redis_url.split("/")[2] in started["message"]


@pytest.mark.celery
@pytest.mark.slow
def test_a_real_worker_imports_a_desk_upload(session, settings, make_runtime, redis_url, tmp_path):
    import time

    from subscribers.import_jobs import ImportJob, create
    from subscribers.models import Subscriber

    redis.Redis.from_url(redis_url).flushdb()
    upload = tmp_path / "upload.csv"
    upload.write_text("email,lang\n" + "".join(f"w{i}@example.com,ko\n" for i in range(30)))
    size = upload.stat().st_size
    job = create(session, path=str(upload), filename="u.csv", size=size, requested_by="t")
    session.commit()
    env = {**os.environ, "MAILER_BROKER_URL": redis_url}
    worker = subprocess.Popen(
        [sys.executable, "-m", "mailer.cli", "worker", "-Q", "ingest", "-P", "solo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        make_runtime(broker_url=redis_url).tasks.import_subscribers(job.id)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            session.expire_all()
            if session.get(ImportJob, job.id).status == "done":
                break
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            log = worker.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            worker.kill()
            log = worker.communicate()[0]
    assert "Traceback" not in log, log
    done = session.get(ImportJob, job.id)
    assert (done.status, done.added, done.bytes_done) == ("done", 30, size)
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 30
    assert not upload.exists()
