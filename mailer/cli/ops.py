"""`mailer ops`: what ops watch."""

from __future__ import annotations

import click

from mailer.cli.base import db_session, main, print_json
from mailer.config import get_settings


@main.group()
def ops() -> None:
    """What ops watch."""


@ops.command("status")
@click.option("--json", "as_json", is_flag=True)
def ops_status(as_json: bool) -> None:
    """Queues, workers, issues in flight (progress, time to drain), stuck batches, recent failures."""
    from mailer.db import utcnow
    from mailer.ops.status import as_text, status

    with db_session() as session:
        data = status(session, get_settings(), utcnow())
    if as_json:
        return print_json(data)
    for line in as_text(data):
        click.echo(line)
