"""A Redis outage mid-run: a private redis-server is stopped while an issue is in flight, and ops
still see what the database knows (`mailer ops status`, /metrics, an issue partly sent), a sign-up's mail
waits in the outbox table, and once Redis is back beat's sweep has it sent, once."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailer.cli import main
from mailer.db import utcnow
from mailer.web.app import create_app as create_web_app
from tests.factories import start_send

pytestmark = [pytest.mark.celery, pytest.mark.slow]


@pytest.fixture
def on_private_redis(private_redis, make_runtime):
    """A Runtime on the private Redis (tasks are still run by hand here: no worker)."""
    return make_runtime(broker_url=private_redis.url)


def _ops_status(runtime, *args: str):
    result = CliRunner().invoke(main, ["ops", "status", *args], obj=runtime)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_ops_see_the_database_through_a_redis_outage(
    session, issue, subscribers_by_lang, on_private_redis, private_redis, make_runtime
):
    start_send(
        session, issue, on_private_redis.settings, utcnow()
    )  # ledger and batches written, nothing sent yet
    session.commit()
    up = _ops_status(on_private_redis, "--json", "--check")
    assert json.loads(up.stdout)["broker"] == {"status": "up"}
    assert up.exit_code == 3  # degraded all the same: an issue is sending and no worker is online

    private_redis.stop()

    # 1. `mailer ops status` answers from the database, exit 0, and says the broker is down
    text = _ops_status(on_private_redis)
    assert text.exit_code == 0, text.output
    assert (
        "broker:   DOWN" in text.output
        and f"issue #{issue.number}: starting 0/9 recipients" in text.output
    )
    data = json.loads(_ops_status(on_private_redis, "--json").stdout)
    assert data["broker"]["status"] == "down" and "Connection refused" in data["broker"]["error"]
    assert [(i["number"], i["total"]) for i in data["issues"]] == [(issue.number, 9)]
    assert data["batches"] == {"unknown": 0, "retrying": 0, "lease_expired": 0}
    assert "the broker is down" in data["degraded"]
    assert _ops_status(on_private_redis, "--check").exit_code == 3

    # 2. /metrics answers 200 with the database's series and mailer_broker_up 0
    scrape = TestClient(create_web_app(on_private_redis)).get("/metrics")
    assert scrape.status_code == 200, scrape.text
    assert "mailer_broker_up 0.0" in scrape.text
    assert (
        f'mailer_deliveries{{issue="{issue.number}",lang="ko",status="queued"}} 4.0' in scrape.text
    )
    assert f'mailer_batches{{issue="{issue.number}",status="pending"}}' in scrape.text

    private_redis.start()
    assert json.loads(_ops_status(on_private_redis, "--json").stdout)["broker"] == {"status": "up"}
    assert (
        "mailer_broker_up 1.0" in TestClient(create_web_app(on_private_redis)).get("/metrics").text
    )


@pytest.fixture
def only_ko_sent(session, issue, settings, runtime):
    """Only the Korean edition given a time, and sent (in process, before the broker is configured)."""
    from datetime import timedelta

    from sqlalchemy import update

    from mailer.delivery import facade
    from mailer.issues import scheduling
    from mailer.issues.models import Edition

    scheduling.schedule(
        session,
        issue,
        ("ko",),
        utcnow() + timedelta(hours=1),
        utcnow(),
        settings,
        approved_by="an admin",
    )
    session.commit()
    session.execute(
        update(Edition)
        .where(Edition.issue_id == issue.id, Edition.lang == "ko")
        .values(send_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    assert facade.send_due(runtime)
    session.expire_all()
    return issue


def _run_queued(runtime, monkeypatch) -> list[str]:
    """What a worker on the `mail` and `send` queues would do: each queued task run once, here, on
    `runtime`."""
    from queue import Empty

    from mailer.celery_app import app

    monkeypatch.setattr(
        app, "mailer_runtime", runtime, raising=False
    )  # as a worker's start sets it
    outcomes = []
    with runtime.tasks.celery.connection_for_read() as conn:
        for name in ("mail", "send"):
            queue = conn.SimpleQueue(name)
            try:
                while True:
                    try:
                        message = queue.get(timeout=1)
                    except Empty:
                        break
                    args, kwargs, _ = message.payload
                    outcomes.append(app.tasks[message.headers["task"]].apply(args, kwargs).get())
                    message.ack()
            finally:
                queue.close()
    return outcomes


def test_a_sign_up_in_the_outage_is_mailed_once_it_is_over(
    session,
    subscribers_by_lang,
    only_ko_sent,
    on_private_redis,
    private_redis,
    monkeypatch,
    make_runtime,
):
    from pathlib import Path

    from mailer.delivery.tasks import run_sweep_batches
    from mailer.mail import transactional
    from mailer.mail.models import MailStatus, OutboxMail
    from tests.web.conftest import sign_up

    # tasks are published to the private Redis, as a web process or beat on it would
    issue = only_ko_sent
    private_redis.stop()

    # 3. the sign-up answers, and its mail is committed with it, waiting for the broker
    web = TestClient(create_web_app(on_private_redis), base_url="https://testserver")
    assert sign_up(web, "outage@example.com", "en").status_code == 200
    [mail] = session.scalars(select(OutboxMail)).all()
    assert (mail.status, mail.queued_at) == (MailStatus.PENDING, None)

    # 5. the issue whose other editions have no send time reads partly sent, from the database
    data = json.loads(_ops_status(on_private_redis, "--json").stdout)
    assert data["broker"]["status"] == "down"
    [row] = data["issues"]
    assert row["state"] == "partly sent" and set(row["unscheduled"]) == {"en", "both"}
    assert f"issue #{issue.number}: partly sent" in _ops_status(on_private_redis).output

    private_redis.start()
    assert run_sweep_batches(on_private_redis)["mails"] == 1  # queued again once it is back...
    assert run_sweep_batches(on_private_redis)["mails"] == 0  # ...and once only
    assert _run_queued(on_private_redis, monkeypatch) == ["sent"]
    outbox = Path(on_private_redis.settings.outbox_dir) / "confirm"
    [path] = list(outbox.rglob("*.eml"))
    assert path.name == f"{mail.id}.eml" and "outage@example.com" in path.read_text()
    session.expire_all()
    assert (session.get(OutboxMail, mail.id).status, session.get(OutboxMail, mail.id).attempts) == (
        "sent",
        1,
    )
    # a copy of the task delivered twice (a redelivery, a sweep's copy) sends nothing more
    assert transactional.run_send_mail(on_private_redis, mail.id) == "done"
    assert len(list(outbox.rglob("*.eml"))) == 1
