"""Shared test factories: what several test modules build the same way."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime

from mailer.config import Settings
from mailer.delivery.lifecycle import resume_issue
from mailer.delivery.models import Batch, Delivery, shown_status
from mailer.delivery.start import begin_send, start_editions
from mailer.issues.models import Issue
from mailer.issues.states import IssueStatus


def start_send(session, issue: Issue, settings: Settings, now: datetime) -> list[int]:
    """Every edition's ledger written in the caller's transaction and nothing queued (a paused issue
    resumes): what delivery.facade.send_now does before it hands batches on, for tests that drive the
    batches themselves. Returns the batch ids."""
    if issue.status == IssueStatus.PAUSED:
        return resume_issue(session, issue)
    return start_editions(session, issue, begin_send(session, issue, now), settings, now)


def shown_statuses(session, *where) -> list[str]:
    """The deliveries' statuses as counted and shown (a queued one of an accepted batch reads `sent`), by id."""
    from sqlalchemy import select

    return list(
        session.scalars(
            select(shown_status())
            .outerjoin(Batch, Batch.id == Delivery.batch_id)
            .where(*where)
            .order_by(Delivery.id)
        )
    )


@contextmanager
def scratch_database(database_url: str, suffix: str):
    """A PostgreSQL database of its own beside the tests' one (its URL), dropped afterwards: for
    migrations that go up and down on data of their own."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from mailer.db import get_engine

    base = make_url(database_url)
    name = f"{base.database}_{suffix}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    scratch = base.set(database=name).render_as_string(hide_password=False)
    try:
        yield scratch
    finally:
        get_engine(scratch).dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def search_page(session, text: str = "", **how) -> tuple[list, int]:
    """subscribers.lookup.find()'s rows and total (`how`: its keywords), for tests that need no more."""
    from subscribers.lookup import find

    found = find(session, text, **how)
    return found.rows, found.total
