"""`mailer db`: the database schema."""

from __future__ import annotations

import click

from mailer.cli.base import main, runtime


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations up to REVISION."""
    from mailer.db import upgrade_database

    upgrade_database(runtime().settings.database_url, revision=revision)
    click.echo(f"database at {revision}")
