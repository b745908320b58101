"""Per-edition send times: parsing what an editor typed, and storing it. The beat tick
(mailer.delivery.facade.send_due) reads them back, so nothing about a schedule lives in memory."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from mailer import partitions
from mailer.config import Settings
from mailer.issues import approvals
from mailer.issues.digest import render_issue
from mailer.issues.editing import EDITABLE
from mailer.issues.models import Issue
from mailer.issues.service import IssueError, transition
from mailer.issues.states import IssueStatus
from mailer.langs import EDITIONS

SCHEDULABLE = (
    *EDITABLE,
    IssueStatus.SENDING,
)  # sending: an edition not started yet may still get its time


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise IssueError(
            f"unknown time zone {name!r} (use an IANA name such as Asia/Seoul)"
        ) from None


def parse_when(text: str, tz: str) -> datetime:
    """ISO 8601; a time without an offset is read in `tz` and keeps that zone (an edition is dated in the
    zone of its send). The instant is the same as in UTC."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise IssueError(
            f"not an ISO 8601 date and time: {text!r} (e.g. 2026-12-07T07:00)"
        ) from None
    if when.tzinfo is None:
        return when.replace(tzinfo=zone(tz))
    return when.astimezone(UTC)


def langs_of(choice: str) -> tuple[str, ...]:
    """`all` (every edition) or one edition's language."""
    if choice == "all":
        return EDITIONS
    if choice not in EDITIONS:
        raise IssueError(f"no edition {choice!r}: choose ko, en, both or all")
    return (choice,)


def schedule(
    session: Session,
    issue: Issue,
    langs: tuple[str, ...],
    when: datetime,
    now: datetime,
    settings: Settings,
    *,
    approved_by: str | None,
) -> None:
    """Give these editions a send time, and re-render them dated by their send day in the zone `when` was
    given in (see parse_when). A broken template is found now, not at send time.

    `approved_by`: the admin (or approvals.OPERATOR) whose schedule this is, approved at once; None (a
    plain editor's) leaves these editions waiting for an admin's approval, whatever they had before."""
    refused = settings.sending_refused()
    if refused:
        raise IssueError(refused)
    if when <= now:
        raise IssueError(
            f"{when.isoformat()} is in the past; use `mailer issue send {issue.number}` to send now"
        )
    editions = [e for e in issue.editions if e.lang in langs]
    started = [e.lang for e in editions if e.started_at is not None]
    if started:
        raise IssueError(f"issue #{issue.number}: edition(s) {', '.join(started)} already sent")
    if issue.status not in SCHEDULABLE:
        raise IssueError(f"issue #{issue.number} is {issue.status}; it cannot be scheduled")
    for e in editions:
        e.send_at, e.send_tz = (
            when,
            getattr(when.tzinfo, "key", None),
        )  # a fixed offset: the digest's zone
    if approved_by:
        approvals.approve(editions, approved_by, now)
    else:
        approvals.withdraw(editions)
    render_issue(session, issue, settings, editions=editions)
    partitions.ensure(
        session.connection(), issue.id
    )  # ahead of the send: its ledger and its events
    if issue.status in EDITABLE:
        first = min(e.send_at for e in issue.editions if e.send_at)
        transition(session, issue, IssueStatus.SCHEDULED, scheduled_at=first)


def unschedule(session: Session, issue: Issue, settings: Settings) -> None:
    """Back to a draft: no edition keeps a send time."""
    transition(session, issue, IssueStatus.DRAFT, scheduled_at=None)
    for e in issue.editions:
        e.send_at = e.send_tz = None
    approvals.withdraw(issue.editions)
    render_issue(session, issue, settings)  # dated by the planned send day again


def unschedule_edition(session: Session, issue: Issue, lang: str, settings: Settings) -> None:
    """Take one edition's send time away, leaving the others' as they are. An issue left with no edition
    scheduled goes back to a draft; one already sending (other editions started) keeps sending."""
    edition = next((e for e in issue.editions if e.lang == lang), None)
    if edition is None:
        raise IssueError(f"no edition {lang!r}: choose ko, en or both")
    if edition.started_at is not None:
        raise IssueError(f"issue #{issue.number}: edition {lang} already started")
    if edition.send_at is None:
        return
    if issue.status not in (IssueStatus.SCHEDULED, IssueStatus.SENDING):
        raise IssueError(f"issue #{issue.number} is {issue.status}; it has no schedule to change")
    edition.send_at = edition.send_tz = None
    approvals.withdraw([edition])
    left = [e.send_at for e in issue.editions if e.send_at and e.started_at is None]
    if issue.status == IssueStatus.SCHEDULED:
        if left:
            issue.scheduled_at = min(left)
        else:
            transition(session, issue, IssueStatus.DRAFT, scheduled_at=None)
    render_issue(
        session, issue, settings, editions=[edition]
    )  # dated by the planned send day again
