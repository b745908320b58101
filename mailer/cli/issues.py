"""`mailer issue`: draft, preview, test, schedule and send the digest."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from mailer.cli.base import db_session, ensure_schema, main, print_json, runtime
from mailer.langs import EDITIONS


@main.group()
def issue() -> None:
    """Digest issues: draft, preview, send."""


def _report(session, issue) -> dict:
    from mailer.db import utcnow
    from mailer.events.stats import issue_report

    return issue_report(session, issue, utcnow(), runtime().settings)


@issue.command("draft")
def issue_draft() -> None:
    """Draft the next issue from stories since the last one. Prints its number last."""
    from mailer.db import utcnow
    from mailer.issues.service import draft_issue

    with db_session() as session:
        new = draft_issue(session, utcnow(), runtime().settings)
        if new is None:
            raise click.ClickException("no new stories since the last issue: nothing drafted")
        for e in new.editions:
            click.echo(f"[{e.lang}] {e.subject}")
        click.echo(new.number)


@issue.command("list")
@click.option("--json", "as_json", is_flag=True)
def issue_list(as_json: bool) -> None:
    """All issues, newest first."""
    from mailer.issues.service import newest_first

    with db_session() as session:
        rows = [_report(session, i) for i in newest_first(session)]
    if as_json:
        return print_json(rows)
    for r in rows:
        click.echo(
            f"#{r['number']:<4} {r['status']:<10} {len(r['stories'])} stories  {r['window_end'][:10]}"
        )


@issue.command("show")
@click.argument("number", type=int)
@click.option("--json", "as_json", is_flag=True)
def issue_show(number: int, as_json: bool) -> None:
    """One issue: status, editions and delivery counts."""
    from mailer.delivery.stats import PARTLY_SENT, progress
    from mailer.issues.service import get_issue

    with db_session() as session:
        found = get_issue(session, number)
        data = _report(session, found)
        sending = progress(session, found)
    data["progress"] = sending.as_dict()
    if as_json:
        return print_json(data)
    reason = f" ({data['status_reason']})" if data["status_reason"] else ""
    click.echo(f"issue #{data['number']}: {sending.state}{reason}")
    if sending.total:
        click.echo(f"  recipients: {sending.summary()}")
    for e in data["editions"]:
        when = f"  send at {e['send_at']}" if e["send_at"] else ""
        if e["send_at"] and not e["started_at"] and not e["approved_at"]:
            when += " (awaiting an admin's approval on the desk)"
        if sending.state == PARTLY_SENT and e["lang"] in sending.unscheduled:
            when = "  not scheduled: waiting for a send time"
        click.echo(f"  [{e['lang']}] {e['subject']}  ({e['html_bytes'] // 1024} KB){when}")
        if e["deliveries"]:
            click.echo("        " + "  ".join(f"{k}={v}" for k, v in e["stats"].items()))


@issue.command("preview")
@click.argument("number", type=int)
@click.option("--lang", type=click.Choice(EDITIONS), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the HTML here.")
@click.option("--text", "as_text", is_flag=True, help="The text part instead of the HTML.")
def issue_preview(number: int, lang: str, out: Path | None, as_text: bool) -> None:
    """Re-render an edition and show it (subscriber links stay as placeholders)."""
    from mailer.issues.digest import render_issue
    from mailer.issues.service import get_issue

    with db_session() as session:
        found = get_issue(session, number)
        render_issue(session, found, runtime().settings)
        edition = next(e for e in found.editions if e.lang == lang)
        body = edition.text if as_text else edition.html
        assert body is not None  # render_issue has just stored both parts
    if out:
        out.write_text(body, encoding="utf-8")
        click.echo(f"wrote {out} ({len(body.encode()) // 1024} KB)")
    else:
        click.echo(body)


@issue.command("test")
@click.argument("number", type=int)
@click.option(
    "--to", "to", multiple=True, required=True, help="An address to send the test to (repeatable)."
)
@click.option("--lang", type=click.Choice(EDITIONS), default="ko", show_default=True)
def issue_test(number: int, to: tuple[str, ...], lang: str) -> None:
    """Send one edition to chosen addresses as a test ([TEST] in the subject; not a delivery of the issue).
    Only to desk accounts' addresses and MAILER_PROOF_DOMAINS, never to a suppressed address."""
    from mailer.issues.service import get_issue
    from mailer.mail.proofs import send_proof

    with db_session() as session:
        sent = send_proof(session, get_issue(session, number), lang, list(to), runtime().settings)
    click.echo(f"issue #{number} [{lang}]: test sent to {', '.join(sent)}")


@issue.command("schedule")
@click.argument("number", type=int)
@click.option(
    "--at",
    "at",
    required=True,
    help="ISO 8601, e.g. 2026-12-07T07:00 (read in --tz unless it has an offset).",
)
@click.option(
    "--lang",
    type=click.Choice([*EDITIONS, "all"]),
    default="all",
    show_default=True,
    help="The edition to schedule (each may have its own time).",
)
@click.option(
    "--tz", default=None, help="IANA time zone of --at [default: MAILER_DIGEST_TIMEZONE]."
)
def issue_schedule(number: int, at: str, lang: str, tz: str | None) -> None:
    """Give editions a send time; beat sends each when it is due (stored in the database). Whoever runs
    the command line holds the server: the schedule is approved as it is made."""
    from mailer.db import utcnow
    from mailer.issues import approvals, scheduling
    from mailer.issues.service import get_issue

    zone = tz or runtime().settings.digest_timezone
    when = scheduling.parse_when(at, zone)
    with db_session() as session:
        found = get_issue(session, number)
        scheduling.schedule(
            session,
            found,
            scheduling.langs_of(lang),
            when,
            utcnow(),
            runtime().settings,
            approved_by=approvals.OPERATOR,
        )
        for e in found.editions:
            local = (
                e.send_at.astimezone(scheduling.zone(zone)).isoformat()
                if e.send_at
                else "not scheduled"
            )
            click.echo(f"  [{e.lang}] {local}")
    click.echo(f"issue #{number}: scheduled")


WAIT = click.option(
    "--wait", is_flag=True, help="Show progress until the issue is sent, or stops and says why."
)


def _wait_for(number: int) -> str:
    """A progress bar over the issue's recipients until it is sent, failed, cancelled or paused."""
    from mailer.delivery.stats import PARTLY_SENT, Progress, progress
    from mailer.issues import reasons
    from mailer.issues.service import get_issue
    from mailer.issues.states import TERMINAL, IssueStatus

    def shown(p: Progress | None) -> str | None:
        return p.summary() if p else None

    def read() -> tuple[Progress, str | None]:
        with runtime().session() as session:  # the schema was checked when the send started
            issue = get_issue(session, number)
            return progress(session, issue), reasons.english(issue.status_reason)

    now, reason = read()  # the ledger is written: the bar starts at the issue's true total
    with click.progressbar(
        length=max(now.total, 1),
        label=f"issue #{number}",
        show_pos=True,
        file=sys.stderr,
        item_show_func=shown,
    ) as bar:
        while True:
            bar.length = max(now.total, 1)
            bar.update(
                now.done - bar.pos, now
            )  # the bar fills as batches settle; the label says how
            if (
                now.status in TERMINAL
                or now.status == IssueStatus.PAUSED
                or now.state == PARTLY_SENT
            ):
                break
            time.sleep(1)
            now, reason = read()
    click.echo(
        f"issue #{number}: {now.state}" + (f" ({reason})" if reason else "") + f": {now.summary()}"
    )
    return now.state


def _queued(number: int, batch_ids: list[int], wait: bool, what: str = "") -> None:
    click.echo(f"issue #{number}: {what}{len(batch_ids)} batches queued")
    if wait and _wait_for(number) != "sent":
        sys.exit(1)


@issue.command("send")
@click.argument("number", type=int)
@WAIT
def issue_send(number: int, wait: bool) -> None:
    """Send an issue now, through the configured backend, to every active subscriber."""
    from mailer.delivery import facade

    ensure_schema()
    _queued(number, facade.send_now(runtime(), number), wait)


@issue.command("pause")
@click.argument("number", type=int)
def issue_pause(number: int) -> None:
    """Pause a send in flight: requests already out finish, nothing new goes out."""
    from mailer.delivery import facade

    ensure_schema()
    facade.pause(runtime(), number)
    click.echo(f"issue #{number}: paused")


@issue.command("resume")
@click.argument("number", type=int)
@WAIT
def issue_resume(number: int, wait: bool) -> None:
    """Resume a paused send where it stopped; nobody already mailed is mailed again."""
    from mailer.delivery import facade

    ensure_schema()
    _queued(number, facade.resume(runtime(), number), wait, "resumed, ")


@issue.command("cancel")
@click.argument("number", type=int)
def issue_cancel(number: int) -> None:
    """Stop an issue for good (draft, scheduled, sending or paused)."""
    from mailer.delivery import facade

    ensure_schema()
    facade.cancel(runtime(), number)
    click.echo(f"issue #{number}: cancelled")


@issue.command("resend-failed")
@click.argument("number", type=int)
@WAIT
def issue_resend_failed(number: int, wait: bool) -> None:
    """Send a sent issue's failed batches again; nobody already mailed is mailed again."""
    from mailer.delivery import facade

    ensure_schema()
    _queued(number, facade.resend_failed(runtime(), number), wait, "failed batches resent, ")
