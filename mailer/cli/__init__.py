"""The `mailer` command: one module per command group, each thin over the services it calls."""

from mailer.cli import admin, db, demo, feeds, issues, ops, processes, subscribers  # noqa: F401  (they register)
from mailer.cli.base import main

__all__ = ["main"]
