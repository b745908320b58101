"""`mailer subscribers`: add, import, export, show, remove, erase."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mailer.cli.base import db_session, main, print_json, runtime
from mailer.langs import EDITIONS
from subscribers.models import Status


@main.group()
def subscribers() -> None:
    """Subscribers: add, import, export, show, remove, erase."""


def _send_confirmation(mail_id: int) -> None:
    """After the commit: the double opt-in mail (in-process without a broker, else queued)."""
    outcome = runtime().tasks.send_mails([mail_id])
    if outcome == "failed":
        click.echo(
            "warning: the confirmation email could not be sent (see the log); run add again to resend",
            err=True,
        )
    elif outcome == "waiting":
        click.echo(
            "confirmation email waiting: the broker is down; beat's sweep queues it when it is back"
        )
    else:
        click.echo(f"confirmation email {outcome}")


@subscribers.command("add")
@click.argument("email")
@click.option("--lang", type=click.Choice(EDITIONS), required=True)
@click.option(
    "--confirmed", is_flag=True, help="Skip double opt-in (the address owner already agreed)."
)
def subscribers_add(email: str, lang: str, confirmed: bool) -> None:
    """Add a subscriber: pending, and sent a confirmation email, unless --confirmed.

    An address already on file is left as it is (a pending one gets its confirmation email again).
    An erased, bounced or complained address is refused.
    """
    from mailer.mail.transactional import record
    from subscribers import service
    from subscribers.models import Status

    with db_session() as session:
        sub, created = service.add(session, email, lang, confirmed=confirmed, source="cli")
        # The mail is committed with the subscriber: a broker outage now delays it, never loses it.
        mail_id = record(session, sub.id, sub.lang) if sub.status == Status.PENDING else None
        click.echo(
            f"{'added' if created else 'already subscribed'}: {sub.email} ({sub.lang}, {sub.status})"
        )
    if mail_id is not None:
        _send_confirmation(mail_id)


def _size(file) -> int | None:
    import io
    import os

    try:
        return os.fstat(file.fileno()).st_size or None
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None  # stdin or a pipe: no bar, only the summary


def _open(name: str):
    """The named file (or stdin for -), opened for reading bytes; a path that is no readable file is a
    one-line error, as any bad input is."""
    from subscribers.csv_import import CsvError

    if name == "-":
        return sys.stdin.buffer
    path = Path(name)
    if path.is_dir():
        raise CsvError(f"{name} is a directory, not a CSV file; nothing was imported")
    try:
        return path.open("rb")
    except OSError as exc:
        raise CsvError(f"cannot read {name}: {exc.strerror or exc}; nothing was imported") from None


@subscribers.command("import")
@click.argument("file")
@click.option(
    "--errors",
    "errors_path",
    type=click.Path(path_type=Path),  # checked on opening: a bad one is a one-line error too
    help="Also write every bad row (line, reason) to this CSV file.",
)
@click.option(
    "--consent",
    help="Where these readers gave their consent (kept on each of them); they are subscribed now.",
)
@click.option(
    "--confirm-by-mail",
    is_flag=True,
    help="Add the readers as pending and send each a confirmation mail; they are subscribed once "
    "they confirm.",
)
def subscribers_import(
    file: str, errors_path: Path | None, consent: str | None, confirm_by_mail: bool
) -> None:
    """Import subscribers from a CSV file (or - for stdin) with a header row: email, lang[, status, created_at].

    New addresses are added (active unless `status` says otherwise); addresses on file are left
    unchanged, so nobody unsubscribed or suppressed comes back, and importing again adds nothing.
    Blocked addresses (bounced, complained, erased) are counted as suppressed. Each reader added gets
    a history row. Bad rows are reported with their line numbers and skipped; the command then exits
    with status 1. The file is UTF-8 (or UTF-16 with a byte-order mark); a line longer than 64 KiB
    stops the import.
    """
    import csv

    from mailer.db import utcnow
    from mailer.mail.imports import write_confirmations
    from subscribers.csv_import import (
        CONFIRM_BY_MAIL,
        CONFIRMED,
        CountedBytes,
        CsvError,
        ImportOptions,
        import_rows,
        read_rows,
        text_of,
    )

    if consent and confirm_by_mail:
        raise click.UsageError("--consent and --confirm-by-mail exclude each other")
    options = ImportOptions(CONFIRM_BY_MAIL if confirm_by_mail else CONFIRMED, consent)
    mails: list[int] = []
    mailed = 0

    shown_max = 100
    shown: list[str] = []
    binary = _open(file)
    counted = CountedBytes(binary)
    committed = {
        "rows": 0,
        "added": 0,
    }  # as of the last committed chunk: what a failure midway leaves in
    errors_out = None
    try:
        errors_out = errors_path.open("w", encoding="utf-8", newline="") if errors_path else None
        errors_csv = csv.writer(errors_out) if errors_out else None
        if errors_csv:
            errors_csv.writerow(["line", "reason"])

        def on_bad_row(bad) -> None:
            if len(shown) < shown_max:
                shown.append(f"line {bad.line}: {bad.reason}")
            if errors_csv:
                errors_csv.writerow([bad.line, bad.reason])

        total = _size(binary)
        rows = read_rows(text_of(counted))  # the header first: no email and lang, nothing read
        with (
            db_session() as session,
            click.progressbar(
                length=total or 1,
                label="importing",
                file=sys.stderr,
                hidden=not (total and sys.stderr.isatty()),
            ) as bar,
        ):

            def on_added(session, added) -> None:  # in the chunk's transaction
                mails.extend(write_confirmations(session, added))

            def on_chunk(report) -> None:
                committed.update(rows=report.rows, added=report.added)
                bar.update(min(counted.count, total or 1) - bar.pos)
                nonlocal mailed
                if mails:  # committed: the workers may send them
                    runtime().tasks.send_mails(list(mails))
                    mailed += len(mails)
                    mails.clear()

            report = import_rows(
                session,
                rows,
                now=utcnow(),
                options=options,
                on_bad_row=on_bad_row,
                on_added=on_added if confirm_by_mail else (lambda session, added: None),
                on_chunk=on_chunk,
            )
    except (CsvError, OSError) as exc:
        kept = (
            f"the first {committed['rows']} rows were imported ({committed['added']} added)"
            if committed["rows"]
            else "nothing was imported"
        )
        reason = (
            str(exc)
            if isinstance(exc, CsvError)
            else f"{exc.filename or file}: {exc.strerror or exc}"  # a disk error, an --errors path
        )
        raise CsvError(f"{reason}; {kept}") from None
    finally:
        if errors_out:
            errors_out.close()
        if file != "-":
            binary.close()
    for line in shown:
        click.echo(line, err=True)
    if report.bad > len(shown):
        more = f"{errors_path}" if errors_path else "--errors FILE"
        click.echo(
            f"... and {report.bad - len(shown)} more bad rows (all of them: {more})", err=True
        )
    click.echo(
        f"imported {report.rows} rows: {report.added} added, {report.existing} already on file, "
        f"{report.suppressed} suppressed, {report.bad} bad"
        + (f"; {mailed} confirmation mails queued" if confirm_by_mail else "")
    )
    if report.bad:
        sys.exit(1)  # the good rows are in; a script still learns that some were not


@subscribers.command("export")
@click.argument(
    "file", required=False, type=click.Path(dir_okay=False, allow_dash=True, path_type=Path)
)
@click.option(
    "--status",
    type=click.Choice([s.value for s in Status]),
    help="Only subscribers with this status.",
)
def subscribers_export(file: Path | None, status: str | None) -> None:
    """Write subscribers as CSV to FILE (readable by its owner only), or to stdout. Streams."""
    import os

    from subscribers.csv_export import write_csv

    with db_session() as session:
        if file is None or str(file) == "-":
            count = write_csv(session, sys.stdout, status=status)
            click.echo(f"exported {count} subscribers", err=True)  # stdout carries the CSV only
            return
        tmp = file.with_name(file.name + ".tmp")
        # Personal data: 0600, and written whole or not at all.
        with os.fdopen(
            os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
            "w",
            encoding="utf-8",
            newline="",
        ) as out:
            count = write_csv(session, out, status=status)
        os.replace(tmp, file)
    click.echo(f"exported {count} subscribers to {file}")


@subscribers.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True)
def subscribers_show(email: str, as_json: bool) -> None:
    """Everything held about one subscriber: the record, its history, deliveries and provider events."""
    from mailer.events.privacy import subscriber_report
    from subscribers import lookup

    with db_session() as session:
        data = subscriber_report(session, email)
        if data is None:
            reason = lookup.suppression_reason(session, email)
            listed = f" (the address is on the suppression list: {reason})" if reason else ""
            raise click.ClickException(f"no subscriber {email}{listed}")
    if as_json:
        return print_json(data)
    for key, value in data.items():
        if not isinstance(value, list):
            click.echo(f"{key:>16}: {value}")
    for change in data["history"]:
        click.echo(
            f"{'history':>16}: {change['at'][:19]}  {change['action']} ({change['source']})"
            + (f"  {change['detail']}" if change["detail"] else "")
        )
    for d in data["deliveries"]:
        click.echo(
            f"{'delivery':>16}: issue #{d['issue']} [{d['edition']}] {d['status']}  {d['sent_at'] or ''}"
        )
    if data["events"]:
        click.echo(
            f"{'events':>16}: {len(data['events'])} from the mail provider (--json lists them)"
        )


@subscribers.command("remove")
@click.argument("email")
def subscribers_remove(email: str) -> None:
    """Stop mailing an address: it is unsubscribed, and kept on file so no import brings it back."""
    from subscribers import service

    with db_session() as session:
        sub = service.remove(session, email)
        click.echo(f"removed: {sub.email} is {sub.status} (`subscribers erase` deletes the record)")


@subscribers.command("erase")
@click.argument("email")
def subscribers_erase(email: str) -> None:
    """GDPR erasure: delete everything about an address; only a hash stays, on the suppression list."""
    from mailer.events.privacy import erase
    from subscribers.emails import normalize

    with db_session() as session:
        existed = erase(session, email)
    address = normalize(email)
    if existed:
        click.echo(
            f"erased: {address} (deliveries keep their counts without it; it is on the suppression list)"
        )
    else:
        click.echo(
            f"no subscriber {address}; it is on the suppression list now, so no import can add it"
        )
