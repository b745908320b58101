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
