"""The `mailer` command: one module per command group, each thin over the services it calls, imported
when one of its commands runs (mailer.cli.base.COMMAND_MODULES)."""

from mailer.cli.base import main

__all__ = ["main"]
