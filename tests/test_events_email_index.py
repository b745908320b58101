"""Migration 0030 on a database holding events, SQLite and PostgreSQL: a subscriber's events indexed by
address alone, and back to (address, id); every event stays and is found by its address."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from mailer.db import alembic_config
from tests.factories import scratch_database

NAME = "ix_webhook_events_email_lower"


@pytest.fixture
def url(database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'email_index.db'}"
        return
    with scratch_database(database_url, "email_index") as scratch:
        yield scratch


def _definition(conn) -> str:
    if conn.dialect.name == "postgresql":
        found = "SELECT pg_get_indexdef(to_regclass(:n))"
    else:
        found = "SELECT sql FROM sqlite_master WHERE name = :n"
    return " ".join(conn.scalar(text(found), {"n": NAME}).lower().split())


def _found(conn) -> list[tuple]:
    return conn.execute(
        text(
            "SELECT sg_event_id, issue_id FROM webhook_events"
            " WHERE lower(email) = 'reader@example.com' ORDER BY id"
        )
    ).all()


def test_the_migration_indexes_events_by_address_alone_and_goes_back(url):
    command.upgrade(alembic_config(url), "0029")
    engine = create_engine(url)
    with engine.begin() as conn:
        for n, (address, issue) in enumerate(
            [("Reader@Example.com", None), ("reader@example.com", 1), ("other@example.com", 1)] * 20
        ):
            conn.execute(
                text(
                    "INSERT INTO webhook_events (sg_event_id, event, email, payload, received_at,"
                    " issue_id) VALUES (:id, 'open', :email, '{}', CURRENT_TIMESTAMP, :issue)"
                ),
                {"id": f"ev-{n}", "email": address, "issue": issue},
            )
        before = _found(conn)
        assert _definition(conn).endswith(", id)")
    assert len(before) == 40

    command.upgrade(alembic_config(url), "head")
    with engine.begin() as conn:
        assert "lower(" in _definition(conn) and not _definition(conn).endswith(", id)")
        assert _found(conn) == before
        assert conn.scalar(text("SELECT count(*) FROM webhook_events")) == 60

    command.downgrade(alembic_config(url), "0029")
    with engine.begin() as conn:
        assert _definition(conn).endswith(", id)")
        assert _found(conn) == before
    command.upgrade(alembic_config(url), "head")
    engine.dispose()
