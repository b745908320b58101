"""The transactional outbox: a sign-up's mail is a row committed with the sign-up, sent once by a
task that claims it, and queued again by beat's sweep when the broker lost it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mailer.db import utcnow
from mailer.mail import transactional
from mailer.mail.models import MailStatus, OutboxMail
from subscribers import service
from tests.web.conftest import sign_up


def _mails(runtime) -> list[OutboxMail]:
    with runtime.sessions() as s:
        return list(s.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def _files(settings) -> list[Path]:
    return sorted(Path(settings.outbox_dir).rglob("*.eml"))


@pytest.fixture
def broker_down(make_runtime, monkeypatch):
    """A Runtime with a broker configured, to which every publish fails, as with Redis stopped."""
    from kombu.exceptions import OperationalError

    def down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    runtime = make_runtime(broker_url="redis://127.0.0.1:1/0")
    monkeypatch.setattr(runtime.tasks.celery, "send_task", down)
    return runtime


def test_a_sign_up_with_the_broker_down_keeps_its_mail_for_the_sweep(
    session, broker_down, settings, monkeypatch, runtime
):
    from fastapi.testclient import TestClient

    from mailer.web.app import create_app

    client = TestClient(
        create_app(broker_down), base_url="https://testserver", follow_redirects=False
    )
    assert sign_up(client, "outage@example.com", "en").status_code == 200
    [mail] = _mails(runtime)
    assert (mail.status, mail.lang, mail.queued_at) == (
        MailStatus.PENDING,
        "en",
        None,
    )  # never queued
    assert _files(settings) == []
    queued = []
    monkeypatch.setattr(
        broker_down.tasks.celery, "send_task", lambda name, args, **kw: queued.append(args[0])
    )
    with runtime.sessions() as s:  # the broker is back: the next sweep queues it at once
        assert transactional.due(s, utcnow(), broker_down.settings) == [mail.id]
        assert (
            transactional.due(s, utcnow(), broker_down.settings) == []
        )  # queued now: not again for a lease
    broker_down.tasks.send_mails([mail.id])
    assert queued == [mail.id]


def test_the_task_claims_the_row_so_a_second_copy_sends_nothing(settings, session, runtime):
    sub, _ = service.add(session, "once@example.com", "ko")
    mail_id = transactional.record(session, sub.id, "ko")
    session.commit()
    assert transactional.run_send_mail(runtime, mail_id) == "sent"
    assert transactional.run_send_mail(runtime, mail_id) == "done"
    [mail] = _mails(runtime)
    assert (mail.status, mail.attempts) == (MailStatus.SENT, 1) and mail.sent_at is not None
    assert [p.name for p in _files(settings)] == [f"{mail_id}.eml"]


def test_a_claim_is_held_until_its_worker_goes_silent(settings, session, runtime):
    sub, _ = service.add(session, "held@example.com", "en")
    mail_id = transactional.record(session, sub.id, "en")
    session.commit()
    now = utcnow()
    with runtime.sessions() as s:  # another worker holds it
        assert transactional._claim(s, mail_id, now, settings)
        s.commit()
        assert transactional.due(s, now, settings) == []
    assert transactional.run_send_mail(runtime, mail_id) == "done" and _files(settings) == []
    later = now + timedelta(seconds=settings.batch_lease_seconds + 1)
    with (
        runtime.sessions() as s
    ):  # its claim lapsed: the sweep queues it, and the task may claim it
        assert transactional.due(s, later, settings) == [mail_id]
    with runtime.sessions() as s:
        assert transactional._claim(s, mail_id, later, settings)


def test_the_per_address_limit_still_caps_the_mails(client, settings, runtime):
    from mailer.web.ratelimit import MAILS_PER_ADDRESS

    for _ in range(MAILS_PER_ADDRESS.burst + 2):
        assert sign_up(client, "capped@example.com", "ko").status_code == 200
    statuses = [m.status for m in _mails(runtime)]
    assert statuses == [MailStatus.SENT] * MAILS_PER_ADDRESS.burst + [MailStatus.SKIPPED] * 2
    assert len(_files(settings)) == MAILS_PER_ADDRESS.burst
    with runtime.sessions() as s:  # a capped mail is never sent, by the sweep either
        assert transactional.due(s, utcnow() + timedelta(days=1), settings) == []


def test_a_mail_to_someone_suppressed_since_is_skipped(settings, session, runtime):
    from subscribers.models import Status

    sub, _ = service.add(session, "gone@example.com", "ko")
    mail_id = transactional.record(session, sub.id, "ko")
    service.mark_suppressed(session, sub.id, Status.COMPLAINED)
    session.commit()
    assert transactional.run_send_mail(runtime, mail_id) == "skipped"
    assert _mails(runtime)[0].status == MailStatus.SKIPPED and _files(settings) == []


def test_subscribers_add_commits_the_mail_with_the_subscriber(
    settings, session, broker_down, runtime
):
    from mailer.cli import main

    result = CliRunner().invoke(
        main, ["subscribers", "add", "cli@example.com", "--lang", "both"], obj=broker_down
    )
    assert result.exit_code == 0, result.output
    assert "confirmation email waiting" in result.output
    [mail] = _mails(runtime)
    assert (mail.status, mail.lang, mail.queued_at) == (MailStatus.PENDING, "both", None)


def test_the_sweep_task_sends_what_the_broker_lost(settings, session, runtime):
    from mailer.delivery.tasks import run_sweep_batches

    sub, _ = service.add(session, "swept@example.com", "en")
    mail_id = transactional.record(session, sub.id, "en")
    session.commit()
    with runtime.sessions() as s:  # as a failed publish leaves it
        s.get(OutboxMail, mail_id).queued_at = None
        s.commit()
    assert (
        run_sweep_batches(runtime)["mails"] == 1
    )  # in process (no broker): sent by the sweep itself
    assert run_sweep_batches(runtime)["mails"] == 0
    assert _mails(runtime)[0].status == MailStatus.SENT and len(_files(settings)) == 1


def test_the_task_retries_a_database_that_drops_before_the_claim(
    settings, session, runtime, monkeypatch
):
    """A PostgreSQL restart as the worker claims the row: the task is retried, not dropped to wait
    for a sweep a lease later."""
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    from mailer.celery_app import app

    monkeypatch.setattr(
        app, "mailer_runtime", runtime, raising=False
    )  # as a worker's start sets it
    sub, _ = service.add(session, "blip@example.com", "ko")
    mail_id = transactional.record(session, sub.id, "ko")
    session.commit()
    engine, dropped = runtime.sessions.kw["bind"], []

    def drop_once(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE outbox_mails") and not dropped:
            dropped.append(statement)
            raise OperationalError(statement, parameters, Exception("server closed the connection"))

    event.listen(engine, "before_cursor_execute", drop_once)
    try:
        assert transactional.send_mail.apply(args=(mail_id,)).get() == "sent"
    finally:
        event.remove(engine, "before_cursor_execute", drop_once)
    assert dropped
    [mail] = _mails(runtime)
    assert (mail.status, mail.attempts) == (MailStatus.SENT, 1)


def test_a_confirmation_with_the_broker_down_keeps_its_welcome_for_the_sweep(
    session, broker_down, settings, runtime
):
    from fastapi.testclient import TestClient

    from mailer.mail.models import MailKind
    from mailer.web.app import create_app
    from subscribers import tokens

    sub, _ = service.add(session, "later@example.com", "ko")
    session.commit()
    client = TestClient(
        create_app(broker_down), base_url="https://testserver", follow_redirects=False
    )
    link = tokens.link(tokens.CONFIRM, sub.id, settings, lang="ko").removeprefix(
        "https://news.example.com"
    )
    assert client.post(link).status_code == 200
    [mail] = _mails(runtime)
    assert (mail.kind, mail.status, mail.queued_at) == (MailKind.WELCOME, MailStatus.PENDING, None)
    with runtime.sessions() as s:  # the broker is back: the sweep queues it, a worker sends it
        assert transactional.due(s, utcnow(), broker_down.settings) == [mail.id]
    assert transactional.run_send_mail(runtime, mail.id) == "sent"
    [sent] = _files(settings)
    assert "welcome" in sent.relative_to(settings.outbox_dir).parts
