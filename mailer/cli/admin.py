"""`mailer admin`: accounts for the editor's desk."""

from __future__ import annotations

import click

from mailer.cli.base import db_session, main


@main.group()
def admin() -> None:
    """Accounts for the editor's desk (/admin)."""


@admin.command("create-user")
@click.argument("name")
def admin_create_user(name: str) -> None:
    """Create an editor account; asks for its password twice (never on the command line)."""
    from mailer.web.admin.accounts import AccountError, create_user
    from mailer.web.admin.passwords import WeakPassword

    password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        with db_session() as session:
            create_user(session, name, password)
    except (AccountError, WeakPassword) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created editor {name}")


@admin.command("set-password")
@click.argument("name")
def admin_set_password(name: str) -> None:
    """Give an editor a new password (asked twice); every session of theirs ends at once."""
    from mailer.db import utcnow
    from mailer.web.admin.accounts import AccountError, set_password
    from mailer.web.admin.passwords import WeakPassword

    password = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    try:
        with db_session() as session:
            ended = set_password(session, name, password, utcnow())
    except (AccountError, WeakPassword) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"new password for {name}; {ended} session(s) ended")


@admin.command("logout-all")
@click.argument("name")
def admin_logout_all(name: str) -> None:
    """End every session of an editor at once (a lost laptop, a shared computer)."""
    from mailer.db import utcnow
    from mailer.web.admin.accounts import AccountError, logout_all

    try:
        with db_session() as session:
            ended = logout_all(session, name, utcnow())
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{ended} session(s) of {name} ended")
