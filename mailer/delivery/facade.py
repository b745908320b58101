"""The one way in to a send: the CLI, the editor's desk and beat start, resume, pause and cancel it here.

Each call is its own unit of work: batches are handed to the queue only after the rows that describe
them are committed, so a crash between the two loses nothing (beat's sweep finds what was not queued).
"""

from __future__ import annotations

import logging

from mailer.config import Settings
from mailer.db import utcnow
from mailer.delivery.lifecycle import cancel_issue, pause_issue, resume_issue
from mailer.delivery.start import begin_send, start_due, start_editions
from mailer.issues import approvals, reasons
from mailer.issues.models import Edition, Issue
from mailer.issues.service import IssueError, get_issue
from mailer.issues.states import IssueStatus
from mailer.runtime import Runtime

log = logging.getLogger(__name__)


def _check_can_send(settings: Settings) -> None:
    """Every way in refuses the same way (CAN-SPAM: no postal address, no mail in production)."""
    refused = settings.sending_refused()
    if refused:
        raise IssueError(refused)


def send_now(rt: Runtime, number: int, by: str = approvals.OPERATOR) -> list[int]:
    """Send issue N now to every active subscriber of each edition not started yet; a paused issue goes on
    where it stopped. The issue becomes `sending` first, then each edition's ledger is written a block at
    a time, each block committed and queued before the next, so the first readers get it at once.
    `by` (an admin's name; the command line's by default) is recorded as the editions' approval.
    Returns the ids of the batches queued."""
    settings = rt.settings
    _check_can_send(settings)
    batch_ids: list[int] = []
    editions: list[int] = []
    with rt.session() as session:
        issue = get_issue(session, number)
        issue_id = issue.id
        if issue.status == IssueStatus.PAUSED:
            batch_ids = resume_issue(session, issue)
        else:
            editions = [e.id for e in begin_send(session, issue, utcnow(), by)]
    rt.tasks.send_batches(batch_ids)
    for edition_id in editions:
        with rt.session() as session:
            batch_ids += start_editions(
                session,
                session.get_one(Issue, issue_id),
                [session.get_one(Edition, edition_id)],
                settings,
                utcnow(),
                rt.tasks.send_batches,
            )
    return batch_ids


def resume(rt: Runtime, number: int, by: str = approvals.OPERATOR) -> list[int]:
    """Resume a paused send where it stopped: nobody already mailed is mailed again."""
    with rt.session() as session:
        if get_issue(session, number).status != IssueStatus.PAUSED:
            raise IssueError(f"issue #{number} is not paused")
    return send_now(rt, number, by)


def resend_failed(rt: Runtime, number: int) -> list[int]:
    """A sent (or failed) issue's failed batches go out again; nobody already mailed is mailed again.
    Returns the ids of the batches queued."""
    from mailer.delivery.resend import resend_failed as reopen

    _check_can_send(rt.settings)
    with rt.session() as session:
        batch_ids = reopen(session, get_issue(session, number), utcnow())
    rt.tasks.send_batches(batch_ids)
    return batch_ids


def pause(rt: Runtime, number: int, reason: str | None = None) -> None:
    """Requests already out finish; nothing new goes out until resume. `reason` is stored as given (one
    of mailer.issues.reasons' codes); without one, "paused by an editor"."""
    with rt.session() as session:
        pause_issue(session, get_issue(session, number), reason or reasons.paused())


def cancel(rt: Runtime, number: int) -> None:
    """Stop for good: every batch not in flight is closed, with its waiting deliveries."""
    with rt.session() as session:
        cancel_issue(session, get_issue(session, number), utcnow())


def send_due(rt: Runtime) -> list[int]:
    """Beat's tick: start every edition whose send time has come, and finish ledgers whose writer died."""
    settings = rt.settings
    try:
        _check_can_send(settings)
    except IssueError as exc:
        log.error("beat sends nothing: %s", exc)
        return []
    with rt.session() as session:
        return start_due(session, settings, utcnow(), after_block=rt.tasks.send_batches)
