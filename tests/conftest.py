"""Test setup: one database per run (SQLite file, or PostgreSQL from MAILER_TEST_DATABASE_URL),
migrated with Alembic once, emptied after every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "mailer" / "demo" / "samples"


def pytest_configure(config):
    # Under CI, Hypothesis draws the same examples every run: a submission is judged on the code it
    # changes, not on a new random draw. Anywhere else each run explores afresh.
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI"):
        settings.load_profile("ci")
    # MAILER_TEST_TMP: a run of its own beside another one in the same checkout
    base = Path(os.environ.get("MAILER_TEST_TMP") or Path(config.rootpath) / ".pytest-tmp")
    base.mkdir(parents=True, exist_ok=True)
    url = os.environ.get("MAILER_TEST_DATABASE_URL") or f"sqlite:///{base / 'test.db'}"
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    TEST_SETTINGS.update(
        env="test",
        database_url=url,
        broker_url="",
        mail_backend="outbox",
        outbox_dir=str(base / "outbox"),
        upload_dir=str(base / "uploads"),
        secret_key="test-secret",
        public_url="https://news.example.com",
        feed_allow_private=True,  # the sample feeds are files, the test servers on 127.0.0.1
        # a sign-up answers at once (tests/web/test_signup_timing.py times it with its floor)
        signup_answer_seconds=0,
    )
    # The same values in the environment, for the processes tests start (`mailer serve`, Celery
    # workers, the CLI): their entry points read their settings from it.
    os.environ.update(
        {f"MAILER_{name.upper()}": str(value) for name, value in TEST_SETTINGS.items()}
    )


# The settings every test starts from (filled in by pytest_configure); a test's own are made from
# them by the `settings` and `make_runtime` fixtures, never by changing the environment.
TEST_SETTINGS: dict = {}


@pytest.fixture(scope="session")
def database_url() -> str:
    from sqlalchemy import text

    import mailer.models  # noqa: F401
    from mailer.db import Base, get_engine, upgrade_database

    url = TEST_SETTINGS["database_url"]
    engine = get_engine(url)
    with engine.begin() as conn:  # a clean slate, whatever an earlier run left
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade_database(url)
    return url


@pytest.fixture
def settings(database_url, tmp_path):
    """The test's settings, with its own outbox."""
    from sqlalchemy import delete

    from mailer.config import Settings
    from mailer.db import get_engine
    from mailer.delivery.models import MetricCount

    # Counters' totals live in the database (one per run): each test starts from zero, as it did
    # when they lived only in its runtime's own store.
    with get_engine(database_url).begin() as conn:
        conn.execute(delete(MetricCount))
    return Settings(
        _env_file=None,
        **{
            **TEST_SETTINGS,
            "outbox_dir": str(tmp_path / "outbox"),
            "upload_dir": str(tmp_path / "uploads"),
        },
    )


@pytest.fixture
def make_runtime(settings):
    """A Runtime on the test's settings with some changed, make_runtime(batch_size=2), or another
    sender, make_runtime(sender=...)."""
    from mailer.wiring import build_runtime

    def make(sender=None, **changes):
        return build_runtime(
            settings.model_copy(update=changes) if changes else settings, sender=sender
        )

    return make


@pytest.fixture
def runtime(make_runtime):
    """The process's services, as an entry point builds them, on the test's settings."""
    return make_runtime()


@pytest.fixture
def session(runtime):
    from sqlalchemy import delete

    from mailer.db import Base

    s = runtime.sessions()
    try:
        yield s
    finally:
        s.rollback()
        s.close()
        with runtime.sessions() as cleaner:
            for table in reversed(Base.metadata.sorted_tables):
                cleaner.execute(delete(table))
            cleaner.commit()


@pytest.fixture
def sample_feeds(tmp_path) -> dict[str, Path]:
    """The bundled sample feeds with dates moved to the last few days, as the demo does."""
    from mailer.db import utcnow
    from mailer.demo.run import NEWEST_AGE, rebase_dates

    paths = {}
    for lang in ("en", "ko"):
        path = tmp_path / f"{lang}.xml"
        path.write_text(
            rebase_dates((SAMPLES / f"{lang}.xml").read_text("utf-8"), utcnow() - NEWEST_AGE),
            "utf-8",
        )
        paths[lang] = path
    return paths


@pytest.fixture
def ingested(session, sample_feeds, settings):
    """Both sample feeds added and ingested."""
    from mailer.articles.ingest import add_feed, ingest_all
    from mailer.db import utcnow

    for lang, path in sample_feeds.items():
        add_feed(session, str(path), lang, settings)
    session.commit()
    return ingest_all(session, utcnow(), settings)


@pytest.fixture
def issue(session, ingested, settings):
    """The next issue drafted from the sample stories, committed."""
    from mailer.db import utcnow
    from mailer.issues.service import draft_issue

    drafted = draft_issue(session, utcnow(), settings)
    session.commit()
    return drafted


@pytest.fixture
def client(runtime, session):
    """The web app on the test's runtime (redirects are answers, not followed), over https as the
    public URL says: the app's cookies are Secure."""
    from fastapi.testclient import TestClient

    from mailer.web.app import create_app

    return TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)


@pytest.fixture
def drafted(issue, subscribers_by_lang):
    """The drafted issue, with the sample readers to send it to."""
    return issue


@pytest.fixture
def subscribers_by_lang(session):
    """Active subscribers: 4 ko, 3 en, 2 both; one pending and one unsubscribed who must get nothing."""
    from subscribers import service

    made = {"ko": 4, "en": 3, "both": 2}
    for lang, n in made.items():
        for i in range(n):
            service.add(session, f"{lang}{i}@example.com", lang, confirmed=True)
    service.add(session, "pending@example.com", "ko")
    gone, _ = service.add(session, "gone@example.com", "en", confirmed=True)
    service.unsubscribe(session, gone.id)
    session.commit()
    return made


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """Redis for the tests that need a real one (they flush its db 15): the one at MAILER_TEST_BROKER_URL
    (default redis://127.0.0.1:6379) when it answers, else a redis-server from PATH of this run's own, on a
    free port, stopped at the end of the run. Neither: the tests needing it fail, saying what to install."""
    from tests import broker

    url = broker.configured_url()
    if broker.answers(url):
        yield broker.with_test_db(url)
        return
    server, error = broker.RedisServer(tmp_path_factory.mktemp("redis"), db=broker.TEST_DB), None
    try:
        server.start()
    except broker.NoRedis as e:
        error = f"no Redis answers at {broker.shown(url)} and {e} or set MAILER_TEST_BROKER_URL"
    except RuntimeError as e:
        error = f"no Redis answers at {broker.shown(url)}, and {e}"
    if error:  # one line, outside the except: no chained traceback
        pytest.fail(error, pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of the test's own, keeping nothing on disk, for tests that stop or restart their
    broker (doing that to the shared one would break the tests running beside them)."""
    from tests import broker

    server = broker.RedisServer(tmp_path / "redis")
    try:
        server.start()
    except broker.NoRedis as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pgbouncer_url(database_url):
    """The test database through a PgBouncer of this run's own in transaction mode, two server connections
    shared by every client (tests/pgbouncer.py), stopped at the end of the run. Only on PostgreSQL; with no
    pgbouncer installed the tests needing it are skipped, or fail under CI, which installs one."""
    from tests import pgbouncer

    if not database_url.startswith("postgresql"):
        pytest.skip("PgBouncer fronts PostgreSQL: set MAILER_TEST_DATABASE_URL to run this")
    bouncer, error = pgbouncer.PgBouncer(database_url), None
    try:
        bouncer.start()
    except pgbouncer.NoPgBouncer as e:
        if not os.environ.get("CI"):
            pytest.skip(str(e))
        error = str(e)
    except RuntimeError as e:
        error = str(e)
    if error:  # one line, outside the except: no chained traceback
        pytest.fail(error, pytrace=False)
    try:
        yield bouncer.url
    finally:
        bouncer.stop()
