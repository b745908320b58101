"""The schema: migrations produce exactly the models, and the constraints the design relies on hold."""

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from mailer.db import Base, compare_and_set, get_engine, schema_is_current
from mailer.delivery.models import Delivery
from mailer.events.models import WebhookEvent
from mailer.issues.models import Edition, Issue
from mailer.partitions import comparison_filter
from subscribers.models import Subscriber


def test_migrations_produce_exactly_the_models_schema(database_url):
    with get_engine(database_url).connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "include_object": comparison_filter(conn.dialect.name)},
        )
        assert compare_metadata(ctx, Base.metadata) == []
    assert schema_is_current(database_url)


def test_every_model_table_exists(database_url):
    from sqlalchemy import inspect

    tables = set(inspect(get_engine(database_url)).get_table_names())
    assert set(Base.metadata.tables) <= tables
    for name in (
        "feeds",
        "articles",
        "subscribers",
        "issues",
        "editions",
        "deliveries",
        "batches",
        "webhook_events",
    ):
        assert name in tables


def _issue(session, number=1):
    now = datetime.now(UTC)
    issue = Issue(number=number, window_start=now - timedelta(days=7), window_end=now)
    issue.editions = [Edition(lang="ko", subject="s")]
    session.add(issue)
    session.flush()
    return issue


def test_one_delivery_per_issue_and_subscriber(session):
    issue = _issue(session)
    sub = Subscriber(email="a@example.com", lang="ko", status="active")
    session.add(sub)
    session.flush()
    edition = issue.editions[0]
    session.add(
        Delivery(issue_id=issue.id, edition_id=edition.id, subscriber_id=sub.id, email=sub.email)
    )
    session.flush()
    session.add(
        Delivery(issue_id=issue.id, edition_id=edition.id, subscriber_id=sub.id, email=sub.email)
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_one_event_per_sg_event_id(session):
    session.add(WebhookEvent(sg_event_id="abc", event="delivered", payload={"a": 1}))
    session.flush()
    session.add(WebhookEvent(sg_event_id="abc", event="delivered", payload={"a": 1}))
    with pytest.raises(IntegrityError):
        session.flush()


def test_subscriber_email_is_unique(session):
    session.add(Subscriber(email="x@example.com", lang="en"))
    session.flush()
    session.add(Subscriber(email="x@example.com", lang="ko"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_status_and_language_are_checked(session):
    session.add(Subscriber(email="y@example.com", lang="fr"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_datetimes_come_back_aware_utc(session):
    issue = _issue(session)
    session.commit()
    session.expire_all()
    again = session.scalar(select(Issue).where(Issue.id == issue.id))
    assert again.window_end.tzinfo is UTC


def test_compare_and_set_lets_exactly_one_racer_win(session):
    issue = _issue(session)
    session.commit()
    assert compare_and_set(session, Issue, issue.id, {"draft"}, status="sending")
    assert not compare_and_set(session, Issue, issue.id, {"draft"}, status="sending")
    session.commit()


def test_migrations_go_down_and_up_again(tmp_path):
    from alembic import command

    from mailer.db import alembic_config

    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    command.upgrade(alembic_config(url), "head")
    command.downgrade(alembic_config(url), "base")
    command.upgrade(alembic_config(url), "head")
    assert schema_is_current(url)


def test_one_engine_and_one_session_factory_per_database(database_url):
    from mailer.db import DEFAULT_POOL_SIZE, session_factory

    assert get_engine(database_url) is get_engine(database_url, DEFAULT_POOL_SIZE)
    assert session_factory(database_url) is session_factory(database_url)


def test_a_pooled_connection_the_server_closed_while_idle_is_replaced(database_url, monkeypatch):
    """No ping on every checkout (a round trip per web request), but one for a connection that sat idle:
    the server (restarted, or a proxy's timeout) may have closed it."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to close a connection")
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    import mailer.db

    own = make_url(database_url).update_query_dict({"application_name": "idle-ping-test"})
    engine = mailer.db.get_engine(own.render_as_string(hide_password=False))  # a pool of its own
    with engine.connect() as conn:
        first = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with get_engine(database_url).connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    monkeypatch.setattr(mailer.db, "IDLE_PING_SECONDS", 0.0)  # it has been idle long enough
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != first
    engine.dispose()


def test_the_schema_check_reads_the_head_from_the_migration_files(tmp_path):
    from alembic import command
    from alembic.script import ScriptDirectory

    from mailer.db import _head_from_files, alembic_config

    assert [_head_from_files()] == ScriptDirectory.from_config(alembic_config()).get_heads()
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    assert not schema_is_current(url)  # no alembic_version at all
    command.upgrade(alembic_config(url), "0023")
    assert not schema_is_current(url)
    command.upgrade(alembic_config(url), "head")
    assert schema_is_current(url)


def test_the_desks_reads_of_a_large_list_are_served_by_indexes(session, database_url):
    """A subscriber's events by address, a page of the list by age (of all, or of one language) and a
    search by a fragment of an address, as the desk asks for them, each read through its index (a plan, not a timing: benchmarks/year.py times them at a year's size)."""
    from sqlalchemy import text

    from mailer.events.privacy import _events_query

    postgres = database_url.startswith("postgresql")
    explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
    if postgres:
        # the planner's statistics of the address (one event each, as for a list's readers): without
        # them it takes an address to have many events and walks the events by id for the newest
        session.execute(
            text(
                "INSERT INTO webhook_events (sg_event_id, event, email, payload, received_at)"
                " SELECT 'ev-' || g, 'open', 'reader' || g || '@example.com', '{}', now()"
                " FROM generate_series(1, 500) g"
            )
        )
        session.execute(text("ANALYZE webhook_events"))
        # on a few rows a sequential scan wins; the question is whether the index can serve
        session.execute(text("SET LOCAL enable_seqscan = off"))

    def plan(query) -> str:
        sql = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        return " ".join(str(row) for row in session.execute(text(explain + str(sql))))

    # on PostgreSQL each partition's copy of the index is named after the partition
    events = plan(_events_query("Mi@Example.com").limit(100))
    assert "ix_webhook_events_email_lower" in events or "webhook_events_none_lower_idx" in events
    if postgres:  # an address's events are few and sorted after the index; a list's page is not
        session.execute(text("SET LOCAL enable_sort = off"))
    page = (
        select(Subscriber.id)
        .order_by(Subscriber.created_at.desc(), Subscriber.id.desc())
        .offset(50)
        .limit(50)
    )
    assert "ix_subscribers_created_at_id" in plan(page)
    # the list of one language, and its count, from that language's part of an index
    assert "ix_subscribers_lang_created_at_id" in plan(page.where(Subscriber.lang == "ko"))
    count = select(func.count()).select_from(Subscriber).where(Subscriber.lang == "ko")
    assert "ix_subscribers_lang_created_at_id" in plan(count)
    # a search by a fragment of an address, from the addresses' trigrams (PostgreSQL's pg_trgm)
    if postgres:
        search = select(Subscriber.id).where(Subscriber.email.contains("reader5", autoescape=True))
        assert "ix_subscribers_email_trgm" in plan(search)
