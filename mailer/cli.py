"""The `mailer` command. Thin: parses arguments, calls services, prints results."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from mailer.config import get_settings
from mailer.standin.cli import standin


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors a user can cause and fix: one line on stderr, exit status 1, no traceback."""
    from mailer.articles.fetch import FetchError
    from mailer.articles.ingest import FeedError
    from mailer.articles.pairing import PairingError
    from mailer.delivery.senders import SendError
    from mailer.issues.service import IssueError
    from mailer.issues.states import InvalidTransition
    from mailer.rendering.render import RenderError
    from subscribers.emails import InvalidEmail
    from subscribers.service import SubscriberError

    return (FetchError, FeedError, PairingError, SendError, IssueError, InvalidTransition, RenderError,
            InvalidEmail, SubscriberError)


class MailerGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except _user_errors() as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
        except Exception as exc:
            from pydantic import ValidationError

            if isinstance(exc, ValidationError):  # bad settings: say which, without the values
                fields = ", ".join("MAILER_" + str(e["loc"][0]).upper() if e["loc"] else e["msg"]
                                   for e in exc.errors())
                click.echo(f"error: invalid settings: {fields}: {exc.errors()[0]['msg']}", err=True)
                ctx.exit(2)
            raise


def _session():
    """A unit of work on a database whose schema is current (the embedded SQLite one is migrated on use)."""
    from mailer.db import schema_is_current, session_scope, upgrade_database

    settings = get_settings()
    if not schema_is_current():
        if settings.database_url.startswith("sqlite"):
            upgrade_database()
        else:
            raise click.ClickException("the database schema is not current: run `mailer db upgrade`")
    return session_scope()


def _dump(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group(cls=MailerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bilingual-mailer")
def main() -> None:
    """A bilingual (Korean/English) newsletter mailer."""
    import logging

    from mailer.logs import configure

    configure(get_settings(), logging.WARNING)  # commands print their own results; logs are for trouble


# --- demo -------------------------------------------------------------------------------------

@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"),
              show_default=True, help="Where the demo keeps its database, feeds and outbox.")
@click.option("--backend", type=click.Choice(["outbox", "sendgrid"]), default="outbox", show_default=True,
              help="sendgrid: send through the SendGrid API to a local stand-in started for the demo.")
def demo(directory: Path, backend: str) -> None:
    """The whole job end to end on the embedded default: SQLite, tasks in-process, outbox files."""
    from mailer.demo.run import run_demo

    run_demo(directory, echo=click.echo, backend=backend)


# --- db ---------------------------------------------------------------------------------------

@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations up to REVISION."""
    from mailer.db import upgrade_database

    upgrade_database(revision=revision)
    click.echo(f"database at {revision}")


# --- feeds and articles -----------------------------------------------------------------------

@main.group()
def feeds() -> None:
    """The RSS/Atom feeds to ingest."""


@feeds.command("add")
@click.argument("url")
@click.option("--lang", type=click.Choice(["en", "ko"]), required=True)
def feeds_add(url: str, lang: str) -> None:
    """Add a feed in one language."""
    from mailer.articles.ingest import add_feed

    with _session() as session:
        feed = add_feed(session, url, lang)
        click.echo(f"added feed {feed.id} ({lang}): {url}")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True)
def feeds_list(as_json: bool) -> None:
    """Feeds with their last fetch, last error and item count."""
    from sqlalchemy import func, select

    from mailer.articles.models import Article, Feed

    with _session() as session:
        counts = dict(session.execute(select(Article.feed_id, func.count()).group_by(Article.feed_id)).all())
        rows = [
            {"url": f.url, "lang": f.lang, "title": f.title, "items": counts.get(f.id, 0),
             "last_fetched_at": f.last_fetched_at.isoformat() if f.last_fetched_at else None,
             "last_error": f.last_error}
            for f in session.scalars(select(Feed).order_by(Feed.id))
        ]
    if as_json:
        return _dump(rows)
    for r in rows:
        state = f"ERROR: {r['last_error']}" if r["last_error"] else "ok"
        click.echo(f"[{r['lang']}] {r['url']}  items={r['items']}  last={r['last_fetched_at'] or 'never'}  {state}")


@main.command()
@click.option("--feed", "feed_url", help="Only this feed's URL.")
def ingest(feed_url: str | None) -> None:
    """Fetch every feed (or one), store new and edited stories, pair translations."""
    from mailer.articles.ingest import ingest_all
    from mailer.db import utcnow

    with _session() as session:
        results = ingest_all(session, utcnow(), only_url=feed_url)
    failed = 0
    for r in results:
        if r.error:
            failed += 1
        state = "not modified" if r.not_modified else f"{r.new} new, {r.updated} updated"
        click.echo(f"{r.feed_url}: {state}" + (f"  ERROR: {r.error}" if r.error else ""))
    if failed and failed == len(results):
        sys.exit(1)


@main.group()
def articles() -> None:
    """Ingested stories and their en<->ko pairs."""


@articles.command("list")
@click.option("--lang", type=click.Choice(["en", "ko"]))
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=50, show_default=True)
def articles_list(lang: str | None, as_json: bool, limit: int) -> None:
    """Newest stories first."""
    from sqlalchemy import select

    from mailer.articles.models import Article

    query = select(Article).order_by(Article.published_at.desc(), Article.id.desc()).limit(limit)
    if lang:
        query = query.where(Article.lang == lang)
    with _session() as session:
        rows = [a.as_dict() for a in session.scalars(query)]
    if as_json:
        return _dump(rows)
    for a in rows:
        pair = f"<->{a['pair_id']}" if a["pair_id"] else "unpaired"
        click.echo(f"{a['id']:>5} [{a['lang']}] {a['published_at'][:16]}  {a['title']}  ({pair})")


@articles.command("pair")
@click.argument("first", type=int)
@click.argument("second", type=int)
def articles_pair(first: int, second: int) -> None:
    """Pair an English and a Korean story by hand."""
    from mailer.articles.pairing import pair

    with _session() as session:
        pair(session, first, second)
    click.echo(f"paired {first} <-> {second}")


@articles.command("unpair")
@click.argument("article_id", type=int)
def articles_unpair(article_id: int) -> None:
    """Undo a story's pairing (both sides)."""
    from mailer.articles.pairing import unpair

    with _session() as session:
        unpair(session, article_id)
    click.echo(f"unpaired {article_id}")


# --- subscribers ------------------------------------------------------------------------------

@main.group()
def subscribers() -> None:
    """Subscribers: add, import, export, show, remove, erase."""


def _send_confirmation(subscriber_id: int, lang: str) -> None:
    """After the commit: the double opt-in mail (in-process without a broker, else queued)."""
    from mailer.delivery.transactional import enqueue_confirmation

    outcome = enqueue_confirmation(subscriber_id, lang)
    if outcome == "failed":
        click.echo("warning: the confirmation email could not be sent (see the log); run add again to resend",
                   err=True)
    else:
        click.echo(f"confirmation email {outcome}")


@subscribers.command("add")
@click.argument("email")
@click.option("--lang", type=click.Choice(["ko", "en", "both"]), required=True)
@click.option("--confirmed", is_flag=True, help="Skip double opt-in (the address owner already agreed).")
def subscribers_add(email: str, lang: str, confirmed: bool) -> None:
    """Add a subscriber: pending, and sent a confirmation email, unless --confirmed.

    An address already on file is left as it is (a pending one gets its confirmation email again).
    An erased, bounced or complained address is refused.
    """
    from subscribers import service
    from subscribers.models import Status

    with _session() as session:
        sub, created = service.add(session, email, lang, confirmed=confirmed, source="cli")
        click.echo(f"{'added' if created else 'already subscribed'}: {sub.email} ({sub.lang}, {sub.status})")
        pending = None if sub.status != Status.PENDING else (sub.id, sub.lang)
    if pending:
        _send_confirmation(*pending)


def _size(file) -> int | None:
    import io
    import os

    try:
        return os.fstat(file.fileno()).st_size or None
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None  # stdin or a pipe: no bar, only the summary


@subscribers.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--errors", "errors_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write every bad row (line, reason) to this CSV file.")
def subscribers_import(file, errors_path: Path | None) -> None:
    """Import subscribers from a CSV file (or - for stdin) with a header row: email, lang[, status, created_at].

    New addresses are added (active unless `status` says otherwise); addresses on file are left
    unchanged, so nobody unsubscribed or suppressed comes back, and importing again adds nothing.
    Bad rows are reported with their line numbers and skipped; the command then exits with status 1.
    """
    import csv

    from mailer.db import utcnow
    from subscribers.csv_import import CountedBytes, import_rows, read_rows, text_of

    shown_max = 100
    shown: list[str] = []
    counted = CountedBytes(file)
    text = text_of(counted)
    errors_out = errors_path.open("w", encoding="utf-8", newline="") if errors_path else None
    errors_csv = csv.writer(errors_out) if errors_out else None
    if errors_csv:
        errors_csv.writerow(["line", "reason"])

    def on_bad_row(bad) -> None:
        if len(shown) < shown_max:
            shown.append(f"line {bad.line}: {bad.reason}")
        if errors_csv:
            errors_csv.writerow([bad.line, bad.reason])

    total = _size(file)
    try:
        rows = read_rows(text)  # the header first: a file without email and lang is refused whole
        with _session() as session, click.progressbar(
            length=total or 1, label="importing", file=sys.stderr, hidden=not (total and sys.stderr.isatty()),
        ) as bar:
            def on_chunk(_report) -> None:
                bar.update(min(counted.count, total or 1) - bar.pos)

            report = import_rows(session, rows, now=utcnow(), on_bad_row=on_bad_row, on_chunk=on_chunk)
    except UnicodeDecodeError:
        raise click.ClickException(f"the file is not UTF-8 text (near byte {counted.count}); "
                                   "rows before that point were imported") from None
    finally:
        if errors_out:
            errors_out.close()
    for line in shown:
        click.echo(line, err=True)
    if report.bad > len(shown):
        more = f"{errors_path}" if errors_path else "--errors FILE"
        click.echo(f"... and {report.bad - len(shown)} more bad rows (all of them: {more})", err=True)
    click.echo(f"imported {report.rows} rows: {report.added} added, {report.existing} already on file, "
               f"{report.suppressed} suppressed, {report.bad} bad")
    if report.bad:
        sys.exit(1)  # the good rows are in; a script still learns that some were not


@subscribers.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--status", type=click.Choice(["pending", "active", "unsubscribed", "bounced", "complained"]),
              help="Only subscribers with this status.")
def subscribers_export(file: Path | None, status: str | None) -> None:
    """Write subscribers as CSV to FILE (readable by its owner only), or to stdout. Streams."""
    import os

    from subscribers.csv_export import write_csv

    with _session() as session:
        if file is None or str(file) == "-":
            count = write_csv(session, sys.stdout, status=status)
            click.echo(f"exported {count} subscribers", err=True)  # stdout carries the CSV only
            return
        tmp = file.with_name(file.name + ".tmp")
        # Personal data: 0600, and written whole or not at all.
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8",
                       newline="") as out:
            count = write_csv(session, out, status=status)
        os.replace(tmp, file)
    click.echo(f"exported {count} subscribers to {file}")


@subscribers.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True)
def subscribers_show(email: str, as_json: bool) -> None:
    """Everything held about one subscriber: the record, its history, deliveries and provider events."""
    from mailer.privacy import subscriber_report
    from subscribers import service

    with _session() as session:
        data = subscriber_report(session, email)
        if data is None:
            reason = service.suppression_reason(session, email)
            listed = f" (the address is on the suppression list: {reason})" if reason else ""
            raise click.ClickException(f"no subscriber {email}{listed}")
    if as_json:
        return _dump(data)
    for key, value in data.items():
        if not isinstance(value, list):
            click.echo(f"{key:>16}: {value}")
    for change in data["history"]:
        click.echo(f"{'history':>16}: {change['at'][:19]}  {change['action']} ({change['source']})"
                   + (f"  {change['detail']}" if change["detail"] else ""))
    for d in data["deliveries"]:
        click.echo(f"{'delivery':>16}: issue #{d['issue']} [{d['edition']}] {d['status']}  {d['sent_at'] or ''}")
    if data["events"]:
        click.echo(f"{'events':>16}: {len(data['events'])} from the mail provider (--json lists them)")


@subscribers.command("remove")
@click.argument("email")
def subscribers_remove(email: str) -> None:
    """Stop mailing an address: it is unsubscribed, and kept on file so no import brings it back."""
    from subscribers import service

    with _session() as session:
        sub = service.remove(session, email)
        click.echo(f"removed: {sub.email} is {sub.status} (`subscribers erase` deletes the record)")


@subscribers.command("erase")
@click.argument("email")
def subscribers_erase(email: str) -> None:
    """GDPR erasure: delete everything about an address; only a hash stays, on the suppression list."""
    from mailer.privacy import erase
    from subscribers.emails import normalize

    with _session() as session:
        existed = erase(session, email)
    address = normalize(email)
    if existed:
        click.echo(f"erased: {address} (deliveries keep their counts without it; it is on the suppression list)")
    else:
        click.echo(f"no subscriber {address}; it is on the suppression list now, so no import can add it")


# --- issues -----------------------------------------------------------------------------------

@main.group()
def issue() -> None:
    """Digest issues: draft, preview, send."""


def _issue_dict(session, issue) -> dict:
    from mailer.db import utcnow
    from mailer.events.stats import stored_counts

    # as the dashboard reads them: a list of many 1M-recipient issues must not count each ledger again
    counts = stored_counts(session, issue, utcnow(), get_settings())
    return {
        "number": issue.number,
        "status": issue.status,
        "status_reason": issue.status_reason,
        "window_start": issue.window_start.isoformat(),
        "window_end": issue.window_end.isoformat(),
        "scheduled_at": issue.scheduled_at.isoformat() if issue.scheduled_at else None,
        "stories": [s.article_id for s in issue.stories],
        "counted_at": counts.counted_at.isoformat(),
        "editions": [
            {"lang": e.lang, "subject": e.subject, "preheader": e.preheader, "note": e.note,
             "send_at": e.send_at.isoformat() if e.send_at else None,
             "started_at": e.started_at.isoformat() if e.started_at else None,
             "html_bytes": len((e.html or "").encode()), "deliveries": counts.deliveries.get(e.lang, {}),
             "stats": counts.stats.get(e.lang, {})}
            for e in issue.editions
        ],
    }


@issue.command("draft")
def issue_draft() -> None:
    """Draft the next issue from stories since the last one. Prints its number last."""
    from mailer.db import utcnow
    from mailer.issues.service import draft_issue

    with _session() as session:
        new = draft_issue(session, utcnow())
        if new is None:
            raise click.ClickException("no new stories since the last issue: nothing drafted")
        for e in new.editions:
            click.echo(f"[{e.lang}] {e.subject}")
        click.echo(new.number)


@issue.command("list")
@click.option("--json", "as_json", is_flag=True)
def issue_list(as_json: bool) -> None:
    """All issues, newest first."""
    from sqlalchemy import select

    from mailer.issues.models import Issue

    with _session() as session:
        rows = [_issue_dict(session, i) for i in session.scalars(select(Issue).order_by(Issue.number.desc()))]
    if as_json:
        return _dump(rows)
    for r in rows:
        click.echo(f"#{r['number']:<4} {r['status']:<10} {len(r['stories'])} stories  {r['window_end'][:10]}")


@issue.command("show")
@click.argument("number", type=int)
@click.option("--json", "as_json", is_flag=True)
def issue_show(number: int, as_json: bool) -> None:
    """One issue: status, editions and delivery counts."""
    from mailer.issues.service import get_issue

    with _session() as session:
        data = _issue_dict(session, get_issue(session, number))
    if as_json:
        return _dump(data)
    click.echo(f"issue #{data['number']}: {data['status']}" + (f" ({data['status_reason']})" if data["status_reason"] else ""))
    for e in data["editions"]:
        when = f"  send at {e['send_at']}" if e["send_at"] else ""
        click.echo(f"  [{e['lang']}] {e['subject']}  ({e['html_bytes'] // 1024} KB){when}")
        if e["deliveries"]:
            click.echo("        " + "  ".join(f"{k}={v}" for k, v in e["stats"].items()))


@issue.command("preview")
@click.argument("number", type=int)
@click.option("--lang", type=click.Choice(["ko", "en", "both"]), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the HTML here.")
@click.option("--text", "as_text", is_flag=True, help="The text part instead of the HTML.")
def issue_preview(number: int, lang: str, out: Path | None, as_text: bool) -> None:
    """Re-render an edition and show it (subscriber links stay as placeholders)."""
    from mailer.issues.service import get_issue, render_issue

    with _session() as session:
        found = get_issue(session, number)
        render_issue(session, found)
        edition = next(e for e in found.editions if e.lang == lang)
        body = edition.text if as_text else edition.html
    if out:
        out.write_text(body, encoding="utf-8")
        click.echo(f"wrote {out} ({len(body.encode()) // 1024} KB)")
    else:
        click.echo(body)


@issue.command("test")
@click.argument("number", type=int)
@click.option("--to", "to", multiple=True, required=True, help="An address to send the test to (repeatable).")
@click.option("--lang", type=click.Choice(["ko", "en", "both"]), default="ko", show_default=True)
def issue_test(number: int, to: tuple[str, ...], lang: str) -> None:
    """Send one edition to chosen addresses as a test ([TEST] in the subject; not a delivery of the issue)."""
    from mailer.issues.proofs import send_proof
    from mailer.issues.service import get_issue

    with _session() as session:
        sent = send_proof(get_issue(session, number), lang, list(to), get_settings())
    click.echo(f"issue #{number} [{lang}]: test sent to {', '.join(sent)}")


@issue.command("schedule")
@click.argument("number", type=int)
@click.option("--at", "at", required=True, help="ISO 8601, e.g. 2026-12-07T07:00 (read in --tz unless it has an offset).")
@click.option("--lang", type=click.Choice(["ko", "en", "both", "all"]), default="all", show_default=True,
              help="The edition to schedule (each may have its own time).")
@click.option("--tz", default=None, help="IANA time zone of --at [default: MAILER_DIGEST_TIMEZONE].")
def issue_schedule(number: int, at: str, lang: str, tz: str | None) -> None:
    """Give editions a send time; beat sends each when it is due (stored in the database)."""
    from mailer.db import utcnow
    from mailer.issues import scheduling
    from mailer.issues.service import get_issue

    zone = tz or get_settings().digest_timezone
    when = scheduling.parse_when(at, zone)
    with _session() as session:
        found = get_issue(session, number)
        scheduling.schedule(session, found, scheduling.langs_of(lang), when, utcnow())
        for e in found.editions:
            local = e.send_at.astimezone(scheduling.zone(zone)).isoformat() if e.send_at else "not scheduled"
            click.echo(f"  [{e.lang}] {local}")
    click.echo(f"issue #{number}: scheduled")


WAIT = click.option("--wait", is_flag=True, help="Show progress until the issue is sent, or stops and says why.")


def _wait_for(number: int) -> str:
    """A progress bar over the issue's recipients until it is sent, failed, cancelled or paused."""
    from mailer.db import session_scope
    from mailer.delivery.stats import batch_progress
    from mailer.issues.service import get_issue
    from mailer.issues.states import TERMINAL, IssueStatus

    with click.progressbar(length=1, label=f"issue #{number}", show_pos=True, file=sys.stderr) as bar:
        while True:
            with session_scope() as session:  # the schema was checked when the send started
                issue = get_issue(session, number)
                done, total = batch_progress(session, issue.id)
                status, reason = issue.status, issue.status_reason
            bar.length = max(total, 1)
            bar.update(done - bar.pos)
            if status in TERMINAL or status == IssueStatus.PAUSED:
                break
            time.sleep(1)
    click.echo(f"issue #{number}: {status}" + (f" ({reason})" if reason else ""))
    return status


@issue.command("send")
@click.argument("number", type=int)
@WAIT
def issue_send(number: int, wait: bool) -> None:
    """Send an issue now, through the configured backend, to every active subscriber."""
    from mailer.delivery.tasks import send_issue

    batch_ids = send_issue(number)
    click.echo(f"issue #{number}: {len(batch_ids)} batches queued")
    if wait and _wait_for(number) != "sent":
        sys.exit(1)


@issue.command("pause")
@click.argument("number", type=int)
def issue_pause(number: int) -> None:
    """Pause a send in flight: requests already out finish, nothing new goes out."""
    from mailer.delivery.service import pause_issue
    from mailer.issues.service import get_issue

    with _session() as session:
        pause_issue(session, get_issue(session, number), "paused by an editor")
    click.echo(f"issue #{number}: paused")


@issue.command("resume")
@click.argument("number", type=int)
@WAIT
def issue_resume(number: int, wait: bool) -> None:
    """Resume a paused send where it stopped; nobody already mailed is mailed again."""
    from mailer.delivery.tasks import send_issue
    from mailer.issues.service import get_issue
    from mailer.issues.states import IssueStatus

    with _session() as session:
        if get_issue(session, number).status != IssueStatus.PAUSED:
            raise click.ClickException(f"issue #{number} is not paused")
    batch_ids = send_issue(number)
    click.echo(f"issue #{number}: resumed, {len(batch_ids)} batches queued")
    if wait and _wait_for(number) != "sent":
        sys.exit(1)


@issue.command("cancel")
@click.argument("number", type=int)
def issue_cancel(number: int) -> None:
    """Stop an issue for good (draft, scheduled, sending or paused)."""
    from mailer.db import utcnow
    from mailer.delivery.service import cancel_issue
    from mailer.issues.service import get_issue

    with _session() as session:
        cancel_issue(session, get_issue(session, number), utcnow())
    click.echo(f"issue #{number}: cancelled")


# --- admin ------------------------------------------------------------------------------------

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
        with _session() as session:
            create_user(session, name, password)
    except (AccountError, WeakPassword) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created editor {name}")


# --- ops --------------------------------------------------------------------------------------

@main.group()
def ops() -> None:
    """What ops watch."""


@ops.command("status")
@click.option("--json", "as_json", is_flag=True)
def ops_status(as_json: bool) -> None:
    """Queues, workers, issues in flight (progress, time to drain), stuck batches, recent failures."""
    from mailer.db import utcnow
    from mailer.ops.status import status

    with _session() as session:
        data = status(session, get_settings(), utcnow())
    if as_json:
        return _dump(data)
    queues, workers = data["queues"], data["workers"]
    if queues is None:
        click.echo("queues:   none (no MAILER_BROKER_URL: tasks run in-process)")
    elif "error" in queues:
        click.echo(f"queues:   {queues['error']}")
    else:
        click.echo("queues:   " + "  ".join(f"{name}={n}" for name, n in queues.items()))
    if isinstance(workers, list):
        click.echo(f"workers:  {len(workers)} online" + ("" if workers else "  <- nothing is consuming the queues"))
        for w in workers:
            running = ", ".join(t["task"] for t in w["active"]) or "idle"
            click.echo(f"  {w['name']} [{','.join(w['queues'])}]: {running}")
    for i in data["issues"]:
        eta = f"{i['eta_seconds']}s" if i["eta_seconds"] is not None else "unknown"
        pending = f" (ledger still to write: {', '.join(i['ledger_pending'])})" if i["ledger_pending"] else ""
        click.echo(f"issue #{i['number']}: {i['status']} {i['done']}/{i['total']} recipients{pending}, "
                   f"{i['per_second']}/s, time to drain {eta}" + (f" ({i['reason']})" if i["reason"] else ""))
    if not data["issues"]:
        click.echo("issues:   none in flight")
    b = data["batches"]
    click.echo(f"batches:  unknown={b['unknown']} retrying={b['retrying']} lease_expired={b['lease_expired']}")
    for f in data["failures"]:
        where = f"batch {f['id']} of issue #{f['issue']}" if f["kind"] == "batch" else f"feed {f['url']}"
        click.echo(f"failure:  {where}: {f['error']}")


# --- processes --------------------------------------------------------------------------------

@main.command()
@click.option("-Q", "--queues", default="ingest,assemble,send,events", show_default=True)
@click.option("-c", "--concurrency", type=int, help="Worker processes (default: one per core).")
@click.option("-P", "--pool", type=click.Choice(["prefork", "solo", "threads"]), default="prefork", show_default=True)
@click.option("-n", "--hostname", help="Worker name (default celery@HOST).")
@click.option("--loglevel", default="info", show_default=True)
def worker(queues: str, concurrency: int | None, pool: str, hostname: str | None, loglevel: str) -> None:
    """A Celery worker with the project's app (needs MAILER_BROKER_URL)."""
    if get_settings().tasks_in_process:
        raise click.ClickException("MAILER_BROKER_URL is not set: without a broker, tasks run in-process")
    from mailer.celery_app import app

    argv = ["worker", "-Q", queues, "--loglevel", loglevel, "--pool", pool]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    if hostname:
        argv += ["--hostname", hostname]
    app.worker_main(argv)


@main.command()
@click.option("--loglevel", default="info", show_default=True)
@click.option("--schedule", default="celerybeat-schedule", show_default=True, help="Beat's state file.")
def beat(loglevel: str, schedule: str) -> None:
    """Celery beat: ingest, the weekly draft and stale-batch pickup on schedule."""
    if get_settings().tasks_in_process:
        raise click.ClickException("MAILER_BROKER_URL is not set: beat needs a broker")
    from mailer.celery_app import app

    app.start(["beat", "--loglevel", loglevel, "--schedule", schedule])


def uvicorn_options(host: str, port: int, workers: int) -> dict:
    """How `mailer serve` runs uvicorn."""
    return {
        "factory": True, "host": host, "port": port, "workers": workers,
        # the client's address from X-Forwarded-For, for sign-up rate limits, from trusted proxies only
        "proxy_headers": True, "forwarded_allow_ips": get_settings().trusted_proxies,
        "log_config": None,  # uvicorn logs through our handler (JSON lines in production)
        # No access log: a line per request would write every unsubscribe and preference link, tokens that
        # are as good as a password, into the logs (and cost a tenth of a one-click request's CPU).
        "access_log": False,
    }


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Processes serving the app; about one per core (each has its own database pool).")
def serve(host: str, port: int, workers: int) -> None:
    """The web app: public pages, webhook, /healthz and /readyz."""
    import logging

    import uvicorn

    from mailer.logs import configure
    from mailer.redis_client import is_redis

    settings = get_settings()
    configure(settings, logging.INFO)
    if workers > 1 and not is_redis(settings.broker_url):
        logging.getLogger(__name__).warning(
            "%d web processes without a Redis broker: each keeps its own sign-up rate limits", workers)
    uvicorn.run("mailer.web.app:create_served_app", **uvicorn_options(host, port, workers))


main.add_command(standin)


if __name__ == "__main__":
    main()
