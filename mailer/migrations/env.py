"""Alembic environment: the URL comes from the caller's config or from settings."""

from alembic import context

import mailer.models  # noqa: F401  (fills Base.metadata)
from mailer.db import Base, UTCDateTime, get_engine
from mailer.partitions import comparison_filter

config = context.config
target_metadata = Base.metadata


def render_item(type_, obj, autogen_context):
    # UTCDateTime stores plain DATETIME/TIMESTAMP; migrations need no import of our code for it.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if not url:  # Alembic's own command line, not upgrade_database(): an entry point of its own
        from mailer.config import get_settings

        url = get_settings().database_url
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with get_engine(url).connect() as connection:
        _run(connection)
        connection.commit()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
        render_item=render_item,
        compare_type=True,
        include_object=comparison_filter(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
