"""PostgreSQL behind PgBouncer in transaction mode (the `pooler=pgbouncer` option of the database URL):
a send goes through it whole, though its connections take turns on a couple of server connections."""

import dataclasses
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, insert, select, text

from mailer.db import get_engine, pooler_of, utcnow
from mailer.delivery.facade import send_now
from mailer.delivery.models import Batch, BatchStatus, Delivery
from mailer.delivery.tasks import run_send_batch
from mailer.issues.models import Issue
from mailer.mail.senders import SendResult
from mailer.wiring import InProcessDispatcher
from subscribers.models import Status, Subscriber


def test_the_pooler_option_is_taken_off_the_url_it_names():
    url = "postgresql+psycopg://app:pw@bouncer:6432/mailer?pooler=pgbouncer&sslmode=require"
    assert pooler_of(url) == (
        "postgresql+psycopg://app:pw@bouncer:6432/mailer?sslmode=require",
        "pgbouncer",
    )
    assert pooler_of("postgresql+psycopg://app@db/mailer") == (
        "postgresql+psycopg://app@db/mailer",
        None,
    )


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://app@db/mailer?pooler=pgpool", "sqlite:///x.db?pooler=pgbouncer"],
)
def test_a_pooler_it_does_not_know_is_refused_by_name(url):
    with pytest.raises(ValueError, match="pooler"):
        pooler_of(url)


class Recording:
    """Takes every batch as SendGrid would, noting who it was for."""

    name = "recording"

    def __init__(self):
        self.emails: list[str] = []
        self.lock = threading.Lock()

    def send(self, batch) -> SendResult:
        with self.lock:
            self.emails += [r.email for r in batch.recipients]
        return SendResult(message_id=f"m-{batch.batch_id}", status="202")


class Workers(InProcessDispatcher):
    """Several workers at once, as a deployment runs them: each batch's task on one of a few threads,
    each thread with its own connection to the database."""

    def __init__(self, pool: ThreadPoolExecutor):
        super().__init__()
        self.pool, self.futures = pool, []

    def send_batches(self, batch_ids, countdown: float = 0.0) -> None:
        self.futures += [self.pool.submit(self._send, b, countdown) for b in batch_ids]

    def _send(self, batch_id: int, countdown: float) -> str:
        time.sleep(countdown)
        return run_send_batch(self.runtime, batch_id)

    def wait(self) -> list[str]:
        done: list[str] = []
        while len(done) < len(self.futures):  # a task may queue another (a retry)
            done.append(self.futures[len(done)].result(timeout=120))
        return done


READERS = 5000


@pytest.mark.slow  # a volume test: 5,000 readers
def test_a_send_through_pgbouncer_in_transaction_mode_reaches_every_reader_once(
    session, issue, make_runtime, pgbouncer_url
):
    now = utcnow()
    langs = ("ko", "en", "both")
    session.execute(
        insert(Subscriber),
        [
            {
                "email": f"reader{i}@example.com",
                "lang": langs[i % 3],
                "status": Status.ACTIVE,
                "confirmed_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(READERS)
        ],
    )
    session.commit()
    sender = Recording()
    rt = make_runtime(
        sender=sender, database_url=f"{pgbouncer_url}?pooler=pgbouncer", batch_size=50
    )
    with ThreadPoolExecutor(4) as pool:
        workers = Workers(pool)
        rt = dataclasses.replace(rt, tasks=workers)
        workers.runtime = rt
        try:
            send_now(rt, issue.number)
            assert set(workers.wait()) == {BatchStatus.ACCEPTED}
        finally:
            pool.shutdown(cancel_futures=True)
    try:
        with get_engine(rt.settings.database_url).connect() as through:  # it is PgBouncer answering
            assert through.scalar(text("SHOW port")) == "5432"  # the server's, through the pooler
    finally:
        get_engine(rt.settings.database_url).dispose()
    session.expire_all()
    assert session.scalar(select(Issue.status).where(Issue.id == issue.id)) == "sent"
    assert Counter(sender.emails) == {f"reader{i}@example.com": 1 for i in range(READERS)}
    ledger = Counter(session.scalars(select(Delivery.subscriber_id)))
    assert len(ledger) == READERS and set(ledger.values()) == {1}
    assert set(session.scalars(select(Batch.status))) == {BatchStatus.ACCEPTED}
    assert session.scalar(select(func.count()).select_from(Batch)) == 102  # 5,000 in 3 editions


def test_the_export_and_one_click_unsubscribes_work_through_pgbouncer_at_once(
    session, make_runtime, pgbouncer_url
):
    """The two places that lean on a connection's state: the export's server-side cursor (it lives
    inside its transaction) and the one-click path's autocommit; run side by side, sharing the pool."""
    import io

    from subscribers import tokens
    from subscribers.csv_export import write_csv
    from subscribers.one_click import unsubscribe_active_at_once

    readers = 3000
    now = utcnow()
    session.execute(
        insert(Subscriber),
        [
            {
                "email": f"reader{i}@example.com",
                "lang": "en",
                "status": Status.ACTIVE,
                "confirmed_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(readers)
        ],
    )
    session.commit()
    ids = list(session.scalars(select(Subscriber.id).order_by(Subscriber.id)))
    rt = make_runtime(database_url=f"{pgbouncer_url}?pooler=pgbouncer")
    engine = get_engine(rt.settings.database_url)
    leaving = ids[:40]

    def export(_: int) -> int:
        with rt.session() as s:
            return write_csv(s, io.StringIO())

    def one_click(subscriber_id: int):
        token = tokens.make_token(tokens.UNSUBSCRIBE, subscriber_id, rt.settings)
        return unsubscribe_active_at_once(engine, token, rt.settings, source="one-click")

    try:
        with ThreadPoolExecutor(4) as pool:
            exports = [pool.submit(export, n) for n in range(4)]
            left = list(pool.map(one_click, leaving))
            counts = [f.result(timeout=120) for f in exports]
    finally:
        engine.dispose()
    assert counts == [readers] * 4
    assert [sub_id for sub_id, _ in left] == leaving
    session.expire_all()
    gone = session.scalars(select(Subscriber.id).where(Subscriber.status == Status.UNSUBSCRIBED))
    assert sorted(gone) == leaving
