"""`mailer db`: the database schema, and retention."""

from __future__ import annotations

import sys

import click

from mailer.cli.base import ensure_schema, main, runtime


@main.group()
def db() -> None:
    """Database schema and retention."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations up to REVISION."""
    from mailer.db import upgrade_database

    upgrade_database(runtime().settings.database_url, revision=revision)
    click.echo(f"database at {revision}")


@db.command("prune")
@click.option("--dry-run", is_flag=True, help="Say what would go; change nothing.")
def db_prune(dry_run: bool) -> None:
    """Delete raw webhook events and ledger rows past their retention, their figures kept.

    MAILER_EVENT_RETENTION_DAYS and MAILER_LEDGER_RETENTION_DAYS say how old; an issue in flight or
    with a batch unsettled keeps its rows. Beat runs this daily."""
    from mailer.db import utcnow
    from mailer.events.retention import plan, run_prune

    ensure_schema()
    rt, now = runtime(), utcnow()
    if dry_run:
        with rt.session() as session:
            planned = plan(session, now, rt.settings)
        for line in planned.lines(done=False):
            click.echo(line)
        return
    with rt.session() as session:
        total = plan(session, now, rt.settings).total
    bar: click._termui_impl.ProgressBar[int]
    with click.progressbar(length=total, label="pruning", show_pos=True, file=sys.stderr) as bar:
        done = run_prune(rt, now, progress=lambda _table, n: bar.update(n))
    for line in done.lines(done=True):
        click.echo(line)
