"""`mailer ops`: what ops watch."""

from __future__ import annotations

import sys

import click

from mailer.cli.base import db_session, main, print_json, runtime

DEGRADED_EXIT = (
    3  # `ops status --check`: it answered, and something stops sending (not a usage error: 2)
)


@main.group()
def ops() -> None:
    """What ops watch."""


@ops.command("status")
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--check",
    is_flag=True,
    help=f"Exit {DEGRADED_EXIT} when degraded (broker down, no worker while an issue is sending, "
    "or an issue stalled); without it the exit status is 0 whenever status could be read.",
)
def ops_status(as_json: bool, check: bool) -> None:
    """Queues, workers, issues in flight (progress, time to drain), stuck batches, recent failures.

    It answers from the database when the broker is down, and says so."""
    from mailer.db import utcnow
    from mailer.ops.status import as_text, degraded, status

    rt = runtime()
    with db_session() as session:
        data = status(session, rt.settings, utcnow(), rt.kv)
    reasons = degraded(data)
    if as_json:
        print_json({**data, "degraded": reasons})
    else:
        for line in as_text(data):
            click.echo(line)
    if check and reasons:
        sys.exit(DEGRADED_EXIT)
