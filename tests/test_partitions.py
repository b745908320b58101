"""PostgreSQL partitions by issue: the migration moves a database holding data in place and back, keys
hold across partitions, an issue's partitions are made before its rows and take in those that reached
the default partition first, and retention drops them. SQLite keeps plain tables."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from mailer import partitions
from mailer.config import Settings
from mailer.db import alembic_config, utcnow
from mailer.events.retention import run_prune
from mailer.events.store import store
from mailer.wiring import build_runtime
from tests.factories import scratch_database

ISSUES = (1, 2, 3)  # 1 and 2 sent long ago, 3 sending
READERS = 40
EVENTS = ("processed", "delivered", "open")


@pytest.fixture
def scratch_url(database_url):
    """A database of its own, next to the tests' one: migrations go up and down in it."""
    if not database_url.startswith("postgresql"):
        pytest.skip("partitions are PostgreSQL's; SQLite keeps plain tables")
    with scratch_database(database_url, "partitions") as scratch:
        yield scratch


def _fill(conn, long_ago) -> None:
    """Issues, editions, batches, a ledger and events as revision 0023 stored them."""
    for issue in ISSUES:
        status, finished = ("sent", long_ago) if issue < 3 else ("sending", None)
        conn.execute(
            text(
                "INSERT INTO issues (id, number, status, window_start, window_end, started_at,"
                " finished_at, created_at, updated_at) VALUES (:i, :i, :s, :t, :t, :t, :f, :t, :t)"
            ),
            {"i": issue, "s": status, "t": long_ago, "f": finished},
        )
        conn.execute(
            text(
                "INSERT INTO editions (id, issue_id, lang, subject, preheader, note, started_at)"
                " VALUES (:i, :i, 'ko', 's', '', '', :t)"
            ),
            {"i": issue, "t": long_ago},
        )
        conn.execute(
            text(
                "INSERT INTO batches (id, issue_id, edition_id, status, size, attempts, suppressed,"
                " invalid, created_at, updated_at) VALUES (:i, :i, :i, :s, :n, 1, 0, 0, :t, :t)"
            ),
            {"i": issue, "n": READERS, "t": long_ago, "s": "accepted" if issue < 3 else "sending"},
        )
        conn.execute(
            text(
                "INSERT INTO deliveries (issue_id, edition_id, subscriber_id, batch_id, email,"
                " status, updated_at) SELECT :i, :i, g, :i, 'r' || g || '@example.com', 'delivered',"
                " :t FROM generate_series(1, :n) g"
            ),
            {"i": issue, "n": READERS, "t": long_ago},
        )
        for kind in EVENTS:
            conn.execute(
                text(
                    "INSERT INTO webhook_events (sg_event_id, event, email, payload, issue_id,"
                    " delivery_id, received_at, processed_at) SELECT :k || '-' || d.id, :k, d.email,"
                    " '{}', d.issue_id, d.id, :t, :t FROM deliveries d WHERE d.issue_id = :i"
                ),
                {"k": kind, "i": issue, "t": long_ago},
            )
    # an event of no issue (a transactional mail's), and one naming an issue we do not hold
    conn.execute(
        text(
            "INSERT INTO webhook_events (sg_event_id, event, payload, issue_id, received_at,"
            " processed_at) VALUES ('lone', 'bounce', '{}', NULL, :t, :t),"
            " ('stray', 'open', '{}', 77, :t, :t)"
        ),
        {"t": long_ago},
    )


def _counts(conn) -> tuple:
    return conn.execute(
        text(
            "SELECT (SELECT count(*) FROM deliveries), (SELECT count(*) FROM webhook_events),"
            " (SELECT max(id) FROM deliveries), (SELECT count(DISTINCT sg_event_id) FROM webhook_events)"
        )
    ).one()


def _partitions(conn, table: str) -> set[str]:
    return set(
        conn.scalars(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = CAST(:t AS regclass)"
            ),
            {"t": table},
        )
    )


def _duplicate_refused(conn, statement: str) -> bool:
    try:
        with conn.begin_nested():
            conn.execute(text(statement))
    except IntegrityError:
        return True
    return False


def test_the_migration_partitions_a_database_holding_data_and_goes_back(scratch_url):
    long_ago = utcnow() - timedelta(days=200)
    command.upgrade(alembic_config(scratch_url), "0023")
    engine = create_engine(scratch_url)
    with engine.begin() as conn:
        _fill(conn, long_ago)
        before = _counts(conn)
    assert before == (3 * READERS, 3 * READERS * 3 + 2, 3 * READERS, 3 * READERS * 3 + 2)

    command.upgrade(alembic_config(scratch_url), "head")
    with engine.begin() as conn:
        assert _counts(conn) == before
        assert _partitions(conn, "deliveries") == {
            "deliveries_default",
            *(f"deliveries_p{i}" for i in ISSUES),
        }
        assert _partitions(conn, "webhook_events") == {
            "webhook_events_default",
            "webhook_events_none",
            *(f"webhook_events_p{i}" for i in ISSUES),
        }
        assert conn.scalar(text("SELECT count(*) FROM deliveries_p2")) == READERS
        assert conn.scalar(text("SELECT sg_event_id FROM webhook_events_none")) == "lone"
        assert conn.scalar(text("SELECT sg_event_id FROM webhook_events_default")) == "stray"
        # the keys hold across partitions, and the id sequence goes on
        assert _duplicate_refused(
            conn,
            "INSERT INTO deliveries (issue_id, edition_id, subscriber_id, status)"
            " VALUES (3, 3, 1, 'queued')",
        )
        assert _duplicate_refused(
            conn,
            "INSERT INTO webhook_events (sg_event_id, event, payload, received_at, issue_id)"
            " VALUES ('lone', 'bounce', '{}', now(), NULL)",
        )
        new_id = conn.scalar(
            text(
                "INSERT INTO deliveries (issue_id, edition_id, subscriber_id, status)"
                " VALUES (3, 3, 1000, 'queued') RETURNING id"
            )
        )
        assert new_id > before[2]

    # the webhook stores once what it gets twice, in any partition; a new issue gets its partitions
    rt = build_runtime(Settings(_env_file=None, database_url=scratch_url))
    now = utcnow()
    posted = [
        {"event": "open", "sg_event_id": "open-1", "issue_id": "1", "delivery_id": "1"},
        {"event": "bounce", "sg_event_id": "lone", "email": "a@example.com"},
        {"event": "open", "sg_event_id": "late", "issue_id": "4", "timestamp": 1},
    ]
    with rt.session() as session:
        assert store(session, posted, now).new == 1  # only "late" is new: issue 4, the default
    with rt.session() as session:
        session.execute(
            text(
                "INSERT INTO issues (id, number, status, window_start, window_end, created_at,"
                " updated_at) VALUES (4, 4, 'draft', :t, :t, :t, :t)"
            ),
            {"t": now},
        )
        assert partitions.ensure(session.connection(), 4) == [
            "webhook_events_p4",
            "deliveries_p4",
        ]
        assert partitions.ensure(session.connection(), 4) == []
    with engine.begin() as conn:
        assert conn.scalar(text("SELECT sg_event_id FROM webhook_events_p4")) == "late"
        assert conn.scalar(text("SELECT count(*) FROM webhook_events_default")) == 1  # stray

    # retention drops the partitions of the issues sent long ago, and keeps the one still sending
    done = run_prune(rt)
    assert done.partitions == {"webhook_events": [1, 2], "deliveries": [1, 2]}
    assert (done.deliveries, done.events) == (2 * READERS, 2 * READERS * 3 + 2)  # + lone, stray
    with engine.begin() as conn:
        assert _partitions(conn, "deliveries") == {
            "deliveries_default",
            "deliveries_p3",
            "deliveries_p4",
        }
        kept = _counts(conn)
    assert kept[:2] == (READERS + 1, READERS * 3 + 1)

    command.downgrade(alembic_config(scratch_url), "0023")
    with engine.begin() as conn:
        assert _counts(conn) == kept
        assert not _partitions(conn, "deliveries") and not _partitions(conn, "webhook_events")
        assert _duplicate_refused(
            conn,
            "INSERT INTO webhook_events (sg_event_id, event, payload, received_at, issue_id)"
            " VALUES ('late', 'open', '{}', now(), 9)",
        )
        primary_key = (
            "SELECT array_length(conkey, 1) FROM pg_constraint WHERE conname = 'pk_deliveries'"
        )
        assert conn.scalar(text(primary_key)) == 1  # (id) again
    command.upgrade(alembic_config(scratch_url), "head")
    with engine.begin() as conn:
        assert _counts(conn) == kept
    engine.dispose()


def test_a_partition_gives_way_to_a_long_read_and_comes_later(scratch_url):
    """ATTACH needs the default partition to itself: behind a read left open it waits a moment, then
    the issue's rows go to the default partition and the next ensure makes the partition."""
    command.upgrade(alembic_config(scratch_url), "head")
    engine = create_engine(scratch_url)
    with engine.connect() as reader, engine.connect() as starter:
        reader.begin()
        reader.scalar(text("SELECT count(*) FROM deliveries"))  # holds every ledger partition
        with starter.begin():
            assert partitions.ensure(starter, 7) == ["webhook_events_p7"]
            # the transaction goes on: the ledger's rows land in the default partition meanwhile
            assert starter.scalar(text("SELECT to_regclass('deliveries_p7')")) is None
            assert starter.scalar(text("SELECT current_setting('lock_timeout')")) == "0"
        reader.rollback()
        with starter.begin():
            assert partitions.ensure(starter, 7) == ["deliveries_p7"]
    engine.dispose()


def test_a_login_without_the_owners_rights_sends_on_and_one_with_them_makes_partitions(scratch_url):
    """Making a partition needs the parent table's owner: a login with only read and write rights
    sends on, its issue's rows in the default partition; a member of the owning role makes them."""
    import uuid

    command.upgrade(alembic_config(scratch_url), "head")
    engine = create_engine(scratch_url)
    app, owner = (f"mailer_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("app", "owner"))
    with engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {app}; CREATE ROLE {owner}"))
        for table in conn.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ):
            conn.execute(text(f"ALTER TABLE {table} OWNER TO {owner}"))
        conn.execute(text(f"GRANT USAGE, CREATE ON SCHEMA public TO {app}, {owner}"))
        conn.execute(
            text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app}")
        )
        conn.execute(text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {app}"))
    try:
        with engine.begin() as conn:
            conn.execute(text(f"SET LOCAL ROLE {app}"))
            assert partitions.ensure(conn, 7) == []
            conn.execute(
                text(
                    "INSERT INTO webhook_events (sg_event_id, event, payload, issue_id, received_at)"
                    " VALUES ('e1', 'open', '{}', 7, now())"
                )
            )
        with engine.begin() as conn:
            assert _partitions(conn, "webhook_events") == {
                "webhook_events_default",
                "webhook_events_none",
            }
            conn.execute(text(f"GRANT {owner} TO {app}"))
        with engine.begin() as conn:
            conn.execute(text(f"SET LOCAL ROLE {app}"))
            assert partitions.ensure(conn, 7) == ["webhook_events_p7", "deliveries_p7"]
            # the row that came first was moved in
            assert conn.scalar(text("SELECT count(*) FROM webhook_events_p7")) == 1
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {app}, {owner}"))
            conn.execute(text(f"DROP ROLE {app}; DROP ROLE {owner}"))
        engine.dispose()
