"""What every `mailer` command shares: the group, its error handling, the Runtime (built once, from the
environment's settings, by the group: the click context's obj), a database session, JSON output."""

from __future__ import annotations

import importlib
import json

import click

from mailer.config import get_settings
from mailer.runtime import Runtime

# Commands whose module is imported only when they run: the stand-in brings its HTTP server and cryptography.
LAZY_COMMANDS = {"standin": "mailer.standin.cli:standin"}
# The command groups' modules, imported when one of their commands runs (or help lists them all): a
# short command such as `ops status` pays for its own imports, not every group's.
COMMAND_MODULES = {
    "admin": "mailer.cli.admin",
    "articles": "mailer.cli.feeds",
    "beat": "mailer.cli.processes",
    "db": "mailer.cli.db",
    "demo": "mailer.cli.demo",
    "feeds": "mailer.cli.feeds",
    "ingest": "mailer.cli.feeds",
    "issue": "mailer.cli.issues",
    "ops": "mailer.cli.ops",
    "serve": "mailer.cli.processes",
    "subscribers": "mailer.cli.subscribers",
    "worker": "mailer.cli.processes",
}


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors a user can cause and fix: one line on stderr, exit status 1, no traceback."""
    from mailer.articles.fetch import FetchError
    from mailer.articles.ingest import FeedError
    from mailer.articles.pairing import PairingError
    from mailer.issues.service import IssueError
    from mailer.issues.states import InvalidTransition
    from mailer.mail.senders import SendError
    from mailer.rendering.render import RenderError
    from subscribers.emails import InvalidEmail
    from subscribers.service import SubscriberError

    return (
        FetchError,
        FeedError,
        PairingError,
        SendError,
        IssueError,
        InvalidTransition,
        RenderError,
        InvalidEmail,
        SubscriberError,
    )


def _unreachable() -> tuple[type[Exception], ...]:
    """The database or the broker not answering (down, restarting, a network cut): not a bug, so
    one line and exit status 1, as for a user's error; the command can be run again."""
    from kombu.exceptions import OperationalError as BrokerError
    from redis.exceptions import ConnectionError as RedisDown
    from redis.exceptions import TimeoutError as RedisSlow
    from sqlalchemy.exc import InterfaceError, OperationalError

    return (OperationalError, InterfaceError, BrokerError, RedisDown, RedisSlow)


def _unreachable_line(exc: Exception) -> str:
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):  # its str() carries the statement and a link: the cause says it
        cause = str(exc.orig).strip().splitlines()
        return f"the database is not answering: {cause[0] if cause else type(exc.orig).__name__}"
    return f"the broker is not answering: {str(exc).strip().splitlines()[0] if str(exc) else exc!r}"


class MailerGroup(click.Group):
    def list_commands(self, ctx) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMAND_MODULES, *LAZY_COMMANDS})

    def get_command(self, ctx, name: str):
        if name not in self.commands and name in COMMAND_MODULES:
            importlib.import_module(COMMAND_MODULES[name])  # its decorators register it on `main`
        if name in LAZY_COMMANDS:
            module, _, attr = LAZY_COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except _user_errors() as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
        except _unreachable() as exc:
            click.echo(f"error: {_unreachable_line(exc)}", err=True)
            ctx.exit(1)
        except Exception as exc:
            from pydantic import ValidationError

            if isinstance(exc, ValidationError):  # bad settings: say which, without the values
                errors = exc.errors()
                fields = ", ".join("MAILER_" + str(e["loc"][0]).upper() for e in errors if e["loc"])
                reason = errors[0]["msg"].removeprefix(
                    "Value error, "
                )  # a check across settings names its own
                click.echo(
                    f"error: invalid settings: {fields + ': ' if fields else ''}{reason}", err=True
                )
                ctx.exit(2)
            raise


def runtime() -> Runtime:
    """The command's Runtime (the group built it, or a caller passed its own as `obj`)."""
    found = click.get_current_context().find_object(Runtime)
    assert found is not None  # the group's callback made one
    return found


def ensure_schema() -> None:
    """The database schema must be current; the embedded SQLite one is migrated on first use."""
    from mailer.db import schema_is_current, upgrade_database

    url = runtime().settings.database_url
    if not schema_is_current(url):
        if url.startswith("sqlite"):
            upgrade_database(url)
        else:
            raise click.ClickException(
                "the database schema is not current: run `mailer db upgrade`"
            )


def db_session():
    """A unit of work on a database whose schema is current."""
    ensure_schema()
    return runtime().session()


def print_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group(cls=MailerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bilingual-mailer")
@click.pass_context
def main(ctx: click.Context) -> None:
    """A bilingual (Korean/English) newsletter mailer."""
    import logging

    from mailer.logs import configure
    from mailer.wiring import build_runtime

    if not isinstance(ctx.obj, Runtime):  # the process's entry point: settings from the environment
        ctx.obj = build_runtime(get_settings())
    configure(
        ctx.obj.settings, logging.WARNING
    )  # commands print their own results; logs are for trouble
