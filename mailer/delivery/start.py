"""Starting a send: the issue becomes `sending`, and each edition's ledger is written, block by block,
each block committed before its batches are handed on. Run twice (beat and an editor, two beats), every
edition starts once: its start is a compare-and-set, and so is each block.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailer import partitions
from mailer.config import Settings
from mailer.db import utcnow
from mailer.delivery.ledger import write_block
from mailer.delivery.lifecycle import finish_issue_if_done
from mailer.issues import approvals
from mailer.issues.digest import redate
from mailer.issues.models import Edition, Issue
from mailer.issues.service import IssueError, transition
from mailer.issues.states import InvalidTransition, IssueStatus

log = logging.getLogger(__name__)
# An edition's ledger is written this many batches at a time: a small first block so that workers start at
# once, then larger ones, each committed and sent while the next is written.
LEDGER_FIRST_BLOCK = 10
LEDGER_BLOCK = 100


def begin_send(
    session: Session, issue: Issue, now: datetime, by: str = approvals.OPERATOR
) -> list[Edition]:
    """The first half of a send: the issue becomes `sending` and every edition not started yet is due
    now, approved by `by` (whoever may send now may approve). Returns those editions. Committed on
    its own, it lets each edition's ledger be written and sent in turn; an edition left unstarted by a
    crash is due (and approved), so beat's tick starts it."""
    unstarted = [e for e in issue.editions if e.started_at is None]
    # Already sending with editions left over from a per-edition schedule: each is claimed later.
    if not (issue.status == IssueStatus.SENDING and unstarted):
        _check_rendered(issue)
        transition(session, issue, IssueStatus.SENDING, status_reason=None, started_at=now)
    for edition in unstarted:
        edition.send_at = now
    approvals.approve(unstarted, by, now)
    session.flush()
    return unstarted


def _check_rendered(issue: Issue) -> None:
    """Sending never renders: an edition without stored HTML is refused before anything is written."""
    missing = [e.lang for e in issue.editions if not (e.html and e.text and e.subject)]
    if missing:
        raise IssueError(
            f"issue #{issue.number}: edition(s) {', '.join(missing)} not rendered; "
            f"run `mailer issue preview {issue.number} --lang {missing[0]}` and fix what it reports"
        )


def start_editions(
    session: Session,
    issue: Issue,
    editions: list[Edition],
    settings: Settings,
    now: datetime,
    after_block: Callable[[list[int]], None] | None = None,
) -> list[int]:
    """Snapshot and batch each edition once: a compare-and-set on its started_at picks the one caller
    (beat tick, `issue send`, a second beat after a restart) that writes its ledger. Returns batch ids.

    Without `after_block` every ledger is written in the caller's transaction. With it, each block is
    committed here and its batch ids handed to after_block (to enqueue) before the next is written.
    """
    batch_ids: list[int] = []
    for edition in editions:
        claimed = (
            session.execute(  # type: ignore[attr-defined]  # execute() is typed Result; DML gives a CursorResult
                update(Edition)
                .where(Edition.id == edition.id, Edition.started_at.is_(None))
                .values(started_at=now, ledger_heartbeat=utcnow())
                .execution_options(synchronize_session=False)
            ).rowcount
            == 1
        )
        if claimed:
            # the issue's partitions, if scheduling did not make them: before its first ledger row
            partitions.ensure(session.connection(), issue.id)
            session.refresh(edition, ["started_at"])
            redate(
                session, issue, [edition], settings
            )  # dated by the day it goes out, sent early or late
            batch_ids += write_ledger(session, issue, edition, settings, now, None, after_block)
    for edition in editions:
        session.expire(edition)  # written by bulk UPDATEs the identity map has not seen
    log.info("issue #%s: %d batches", issue.number, len(batch_ids), extra={"issue": issue.number})
    return batch_ids


def write_ledger(
    session: Session,
    issue: Issue,
    edition: Edition,
    settings: Settings,
    now: datetime,
    through: int | None,
    after_block: Callable[[list[int]], None] | None,
) -> list[int]:
    """An edition's ledger, block after block from subscriber id `through` on, its progress recorded with
    each block; the last one marks it done. Returns the batch ids."""
    batch_ids: list[int] = []
    blocks = LEDGER_FIRST_BLOCK if through is None else LEDGER_BLOCK
    while True:
        now = max(now, utcnow())  # each block's own time: a large ledger takes a while to write
        # Compare-and-set first: a writer that went silent for a lease and was taken over stops here. The
        # row stays locked until this block commits, so no one takes over halfway through it.
        still_ours = (
            session.execute(  # type: ignore[attr-defined]  # execute() is typed Result; DML gives a CursorResult
                update(Edition)
                .where(
                    Edition.id == edition.id,
                    Edition.ledger_done_at.is_(None),
                    Edition.ledger_through.is_not_distinct_from(through),
                )
                .values(ledger_heartbeat=utcnow())
                .execution_options(synchronize_session=False)
            ).rowcount
            == 1
        )
        if not still_ours:
            session.rollback()
            log.error(
                "issue #%s: the %s ledger was taken over by another writer; this one stops",
                issue.number,
                edition.lang,
                extra={"issue": issue.number},
            )
            return batch_ids
        if after_block and batch_ids and _issue_status(session, issue.id) == IssueStatus.CANCELLED:
            block_last, block_ids = (
                True,
                [],
            )  # cancelled while being written: the rest is never written
        else:
            first = through is None
            block = write_block(session, issue, edition, now, settings.batch_size, through, blocks)
            through, block_last, block_ids = block.through, block.last, block.batch_ids
            if first:
                partitions.analyze(session.connection(), partitions.LEDGER, issue.id)
        session.execute(
            update(Edition)
            .where(Edition.id == edition.id)
            .values(
                ledger_through=through,
                ledger_done_at=now if block_last else None,
            )
            .execution_options(synchronize_session=False)
        )
        batch_ids += block_ids
        if after_block:
            session.commit()
            after_block(block_ids)
        if block_last:
            break
        blocks = LEDGER_BLOCK
    # The last block may be empty; then no batch would finish the issue (a probe: cheap while any is open).
    if finish_issue_if_done(session, issue.id, now) and after_block:
        session.commit()
    return batch_ids


def _issue_status(session: Session, issue_id: int) -> str | None:
    return session.scalar(select(Issue.status).where(Issue.id == issue_id))


def _ledger_stalled(now: datetime, settings: Settings):
    """A ledger left half-written: its writer has not been heard of for a lease."""
    stale = now - timedelta(seconds=settings.batch_lease_seconds)
    return (
        Edition.started_at.is_not(None)
        & Edition.ledger_done_at.is_(None)
        & (Edition.ledger_heartbeat < stale)
    )


def stalled_ledgers(session: Session, now: datetime, settings: Settings) -> list[tuple[int, int]]:
    """(issue id, edition id) of the stalled ledgers of issues still sending (or paused)."""
    return list(
        session.execute(
            select(Edition.issue_id, Edition.id)
            .join(Issue, Issue.id == Edition.issue_id)
            .where(
                _ledger_stalled(now, settings),
                Issue.status.in_([IssueStatus.SENDING, IssueStatus.PAUSED]),
            )
            .order_by(Edition.id)
        ).all()
    )


def resume_ledger(
    session: Session,
    edition_id: int,
    now: datetime,
    settings: Settings,
    after_block: Callable[[list[int]], None] | None = None,
) -> list[int]:
    """Take over a stalled ledger (compare-and-set on its heartbeat, so one taker) and write the rest."""
    taken = (
        session.execute(  # type: ignore[attr-defined]  # execute() is typed Result; DML gives a CursorResult
            update(Edition)
            .where(Edition.id == edition_id, _ledger_stalled(now, settings))
            .values(ledger_heartbeat=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    if not taken:
        return []
    edition = session.get_one(Edition, edition_id, populate_existing=True)
    log.warning(
        "issue #%s: the %s ledger's writer went silent after subscriber %s; writing the rest",
        edition.issue.number,
        edition.lang,
        edition.ledger_through,
        extra={"issue": edition.issue.number},
    )
    return write_ledger(
        session, edition.issue, edition, settings, now, edition.ledger_through, after_block
    )


def due_editions(session: Session, now: datetime) -> dict[int, list[int]]:
    """{issue id: [edition ids]} whose send time has come, approved, and that have not started (paused
    issues wait)."""
    rows = session.execute(
        select(Edition.issue_id, Edition.id)
        .join(Issue, Issue.id == Edition.issue_id)
        .where(
            Edition.send_at <= now,
            Edition.started_at.is_(None),
            Edition.approved_at.is_not(None),  # a plain editor's schedule waits for an admin
            Issue.status.in_([IssueStatus.SCHEDULED, IssueStatus.SENDING]),
        )
        .order_by(Edition.issue_id, Edition.id)
    )
    due: dict[int, list[int]] = {}
    for issue_id, edition_id in rows:
        due.setdefault(issue_id, []).append(edition_id)
    return due


def start_due(
    session: Session,
    settings: Settings,
    now: datetime,
    after_block: Callable[[list[int]], None] | None = None,
) -> list[int]:
    """The beat tick: start every edition that is due, and finish every ledger left half-written. Run twice
    (two beats, a restart) it starts each once."""
    batch_ids: list[int] = []
    for issue_id, edition_ids in due_editions(session, now).items():
        issue = session.get_one(Issue, issue_id, populate_existing=True)
        if issue.status == IssueStatus.SCHEDULED:
            try:
                transition(session, issue, IssueStatus.SENDING, status_reason=None, started_at=now)
            except InvalidTransition:  # another tick, or an editor, moved it first
                if issue.status != IssueStatus.SENDING:
                    continue
        editions = [e for e in issue.editions if e.id in edition_ids]
        batch_ids += start_editions(session, issue, editions, settings, now, after_block)
        log.info(
            "issue #%s: due edition(s) %s started",
            issue.number,
            ", ".join(e.lang for e in editions),
            extra={"issue": issue.number},
        )
    for _, edition_id in stalled_ledgers(session, now, settings):
        batch_ids += resume_ledger(session, edition_id, now, settings, after_block)
    return batch_ids
