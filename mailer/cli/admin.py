"""`mailer admin`: accounts for the editor's desk."""

from __future__ import annotations

import click

from mailer.cli.base import db_session, main


@main.group()
def admin() -> None:
    """Accounts for the editor's desk (/admin)."""


def _account(change, *args):
    """Run an account change in one transaction; a refusal (unknown name, weak password) is one line."""
    from mailer.web.admin.accounts import AccountError
    from mailer.web.admin.passwords import WeakPassword

    try:
        with db_session() as session:
            return change(session, *args)
    except (AccountError, WeakPassword) as exc:
        raise click.ClickException(str(exc)) from None


def _new_password(prompt: str) -> str:
    return click.prompt(
        prompt, hide_input=True, confirmation_prompt=True
    )  # never on the command line


@admin.command("create-user")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["admin", "editor"]),
    default=None,
    help="admin: also sends, cancels, keeps subscribers and accounts. Default: admin for the first "
    "account, editor after.",
)
def admin_create_user(name: str, role: str | None) -> None:
    """Create an editor account; asks for its password twice."""
    from mailer.web.admin.accounts import create_user

    made = _account(
        lambda session, *args: create_user(session, *args).role,
        name,
        _new_password("password"),
        role,
    )
    click.echo(f"created {made} {name}")


@admin.command("set-password")
@click.argument("name")
def admin_set_password(name: str) -> None:
    """Give an editor a new password (asked twice); every session of theirs ends at once."""
    from mailer.db import utcnow
    from mailer.web.admin.accounts import set_password

    ended = _account(set_password, name, _new_password("new password"), utcnow())
    click.echo(f"new password for {name}; {ended} session(s) ended")


@admin.command("logout-all")
@click.argument("name")
def admin_logout_all(name: str) -> None:
    """End every session of an editor at once (a lost laptop, a shared computer)."""
    from mailer.db import utcnow
    from mailer.web.admin.accounts import logout_all

    ended = _account(logout_all, name, utcnow())
    click.echo(f"{ended} session(s) of {name} ended")


@admin.command("reset-2fa")
@click.argument("name")
def admin_reset_2fa(name: str) -> None:
    """Turn off an editor's two-factor login (a lost phone and no recovery code left); their recovery
    codes and every session of theirs end. They can enrol again from the desk."""
    from mailer.db import utcnow
    from mailer.web.admin.accounts import reset_2fa

    was_on, ended = _account(reset_2fa, name, utcnow())
    state = "turned off" if was_on else "was not on"
    click.echo(f"two-factor login for {name} {state}; {ended} session(s) ended")
