"""Base, engine and session factory: the same code on SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import CheckConstraint, DateTime, MetaData, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so Alembic migrations name things the same way on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python on every backend (SQLite keeps no zone, so store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use aware datetimes (UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


def one_of(column: str, values) -> CheckConstraint:
    """A column that holds one of `values` (an enum's members, a tuple of languages), named after it."""
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=column)


def connection_lost(exc: BaseException) -> bool:
    """A database error that says the server is not answering (a restart, a failover, a network cut, a
    locked SQLite file), not that the statement was wrong: worth retrying."""
    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")  # a worker process and the CLI share the file
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


DEFAULT_POOL_SIZE = 10  # Settings.database_pool_size's default


POOLERS = ("pgbouncer",)  # what a database URL's `pooler` option may name


def pooler_of(url: str) -> tuple[str, str | None]:
    """The URL without its `pooler` option, and that option: `?pooler=pgbouncer` says the URL is a
    PgBouncer in transaction mode, not PostgreSQL itself. The option is the URL's, so every process
    and command given the URL (workers, beat, the web, migrations) connects the same way."""
    from sqlalchemy.engine import make_url

    if "pooler=" not in url:
        return url, None
    parsed = make_url(url)
    pooler = parsed.query.get("pooler")
    if isinstance(pooler, tuple) or pooler not in POOLERS:
        raise ValueError(
            f"unknown database pooler {pooler!r} in the database URL: pooler=pgbouncer"
        )
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("a database pooler (pooler=pgbouncer) is for PostgreSQL URLs only")
    return parsed.difference_update_query(["pooler"]).render_as_string(hide_password=False), pooler


def get_engine(url: str, pool_size: int = DEFAULT_POOL_SIZE) -> Engine:
    """One engine (one connection pool) per URL and pool size in a process."""
    return _engine(url, pool_size)


@lru_cache(maxsize=8)
def _engine(url: str, pool_size: int) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        url, pooler = pooler_of(url)
        # Behind PgBouncer in transaction mode each transaction may run on another server connection,
        # so nothing may outlive one. psycopg prepares a statement on the server once it has run five
        # times on a connection; another client then meets that name on the server connection it is
        # given (DuplicatePreparedStatement). So no statement is prepared on the server there.
        connect_args = {"prepare_threshold": None} if pooler else {}
        # The web app runs as many threads as this pool holds (mailer.web.app); SQLAlchemy's default of 5
        # (+10) connections left most requests queueing for one under load.
        engine = create_engine(
            url, pool_size=pool_size, max_overflow=pool_size * 2, connect_args=connect_args
        )
        _ping_when_idle(engine)
    return engine


IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """pool_pre_ping, only for a connection that sat idle in the pool: one a restarted server or a proxy
    may have closed. Pinging on every checkout cost a round trip per web request, about a tenth of a
    one-click unsubscribe's CPU; a connection in steady use answers for itself."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(
                f"pooled connection idle {time.monotonic() - idle_since:.0f} s is gone"
            ) from exc


def session_factory(url: str, pool_size: int = DEFAULT_POOL_SIZE) -> sessionmaker[Session]:
    """Sessions on the engine for `url` (mailer.wiring's build_runtime makes the process's)."""
    return _session_factory(get_engine(url, pool_size))


@lru_cache(maxsize=8)
def _session_factory(engine: Engine) -> sessionmaker[Session]:
    # Made once per engine (so never bound to one the engine cache has let go): a sessionmaker is a new
    # class, and making one per unit of work cost more CPU than a one-click unsubscribe's SQL.
    return sessionmaker(bind=engine, expire_on_commit=False)


def is_postgres(session_or_engine) -> bool:
    bind = (
        session_or_engine.get_bind()
        if isinstance(session_or_engine, Session)
        else session_or_engine
    )
    return bind.dialect.name == "postgresql"


def serial_plans(session: Session) -> None:
    """No parallel workers for the rest of the session's transaction (PostgreSQL; a no-op on SQLite).
    For a short statement run many times over a large table, such as a batch's read of its 1,000
    ledger rows: the planner's estimate for it passes the threshold for parallel plans, and launching
    the workers (a process each, every time) costs several times the 5 ms the read takes alone."""
    if is_postgres(session):
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))


def custom_plans(session: Session) -> None:
    """Each statement planned for its own parameters for the rest of the session's transaction
    (PostgreSQL; a no-op on SQLite). psycopg prepares a statement it has run five times, and PostgreSQL
    may then keep one generic plan for every value: for a search, one fit for a narrow fragment that
    sorts all of a broad one's matches."""
    if is_postgres(session):
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def relaxed_commit(session: Session) -> None:
    """The session's transaction commits without waiting for its WAL to reach the disk (PostgreSQL;
    SQLite's WAL mode already syncs at checkpoints only). Only for a change whose loss in a crash of
    the database the state machine already survives, as it survives the worker's death before it.
    Saves a disk flush (1-3 ms here) each time."""
    if is_postgres(session):
        session.execute(text("SET LOCAL synchronous_commit = off"))


def upsert_insert(session: Session, table):
    """INSERT with ON CONFLICT (PostgreSQL's and SQLite's share the form): for rows two writers may race to add."""
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql.insert if is_postgres(session) else sqlite.insert)(table)


def compare_and_set(session: Session, model, row_id: int, allowed_from, **values) -> bool:
    """Move one row to new values only if its status is still one of allowed_from.

    A single UPDATE ... WHERE status IN (...): of two workers or editors racing, exactly one wins.
    """
    from sqlalchemy import update

    result = session.execute(
        update(model)
        .where(model.id == row_id, model.status.in_([str(s) for s in allowed_from]))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]  # execute() is typed Result; DML gives a CursorResult


def alembic_config(url: str | None = None):
    """Alembic's configuration; without `url` the migrations' env.py reads it from the environment."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "mailer:migrations")
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(url: str, revision: str = "head") -> None:
    """`mailer db upgrade`: Alembic migrations to head. Safe to run any number of times."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


MIGRATIONS = Path(__file__).resolve().parent / "migrations" / "versions"
_REVISION = re.compile(r"^(down_revision|revision) = ['\"](\w+)['\"]", re.MULTILINE)


@lru_cache(maxsize=1)
def _head_from_files() -> str | None:
    """The one head of the migrations' chain, read from their files (importing Alembic costs a short
    command such as `ops status` a fifth of its time); None when the files say something less simple
    (a merge, two heads), and Alembic is asked."""
    revisions, parents = set(), set()
    for path in MIGRATIONS.glob("*.py"):
        found = {name: value for name, value in _REVISION.findall(path.read_text())}
        if "revision" not in found:
            return None
        revisions.add(found["revision"])
        parents.update([found["down_revision"]] if "down_revision" in found else [])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def schema_is_current(url: str) -> bool:
    from sqlalchemy import inspect, text

    head = _head_from_files()
    if head is not None:
        with get_engine(url).connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return False
            return set(conn.scalars(text("SELECT version_num FROM alembic_version"))) == {head}
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with get_engine(url).connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads
