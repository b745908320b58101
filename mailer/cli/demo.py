"""`mailer demo`: the whole job on the embedded default."""

from __future__ import annotations

from pathlib import Path

import click

from mailer.cli.base import main


@main.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="Where the demo keeps its database, feeds and outbox.",
)
@click.option(
    "--backend",
    type=click.Choice(["outbox", "sendgrid"]),
    default="outbox",
    show_default=True,
    help="sendgrid: send through the SendGrid API to a local stand-in started for the demo.",
)
def demo(directory: Path, backend: str) -> None:
    """The whole job end to end on the embedded default: SQLite, tasks in-process, outbox files."""
    from mailer.demo.run import run_demo
    from mailer.wiring import build_runtime

    run_demo(directory, build_runtime, echo=click.echo, backend=backend)
