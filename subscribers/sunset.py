"""Readers who stopped reading: asked once whether they still want the digest, paused without an answer.

Each subscriber counts the issues delivered to them since their last human open or click
(`unread_issues`): an issue's readers are counted once its events have settled, from its ledger
(mailer.events.unread, count_delivered), and a human open or click resets the count as it is applied
(count_engaged; a machine's open is no reader's). The count lives on the subscriber because the ledger
that shows it is pruned. Issues are ordered by id, so an issue counts once, and not at all for a reader
who opened it.

The rule (run by beat once a day): an active reader whose count reached MAILER_SUNSET_ISSUES and who was
not asked yet is asked, once ("still want this?", a mail with one button, written by the caller in the
same transaction); one still silent ANSWER_DAYS after being asked is paused: not mailed, not erased, a
history row written. A human open or click, the button, or the preferences page clears it all. Claims
are compare-and-set on `asked_at` and `status`, so a second run, or two at once, ask nobody twice.

Without the webhook nothing is delivered or opened as far as we know, so nothing counts and nobody is
asked: no reader is let go on the absence of evidence we never get.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from mailer.db import utcnow
from subscribers import changes
from subscribers.models import Change, Status, Subscriber

# Two weeks: with a weekly digest, two more issues in which a reading reader shows it, and time enough
# for someone away to find the mail.
ANSWER_DAYS = 14
CHUNK = 1000  # readers claimed per transaction (the caller runs again until fewer come back)
SOURCE = "sunset"  # the history rows the rule writes
STAY_SOURCE = "stay-link"  # the answer from the mail's button
ASKED = "asked to stay"
PAUSED = "paused"
CAME_BACK = "came back"
STILL_READING = "still reading"


@dataclass(frozen=True)
class Outcome:
    asked: list[
        tuple[int, str]
    ]  # (subscriber id, lang): the mail to write for each, in their edition
    paused: list[int]


def _ids(subscriber_ids: Iterable[int]) -> list[int]:
    return sorted(set(subscriber_ids))  # one lock order in every worker


def count_delivered(session: Session, issue_id: int, subscriber_ids: Iterable[int]) -> int:
    """An issue reached these readers: one more unread issue each, unless this issue (or a later one)
    was counted or read already."""
    ids = _ids(subscriber_ids)
    if not ids:
        return 0
    return session.execute(  # type: ignore[attr-defined]  # DML gives a CursorResult
        update(Subscriber)
        .where(
            Subscriber.id.in_(ids),
            or_(Subscriber.unread_issue.is_(None), Subscriber.unread_issue < issue_id),
        )
        # a fact about the reader's mail, not a change of the subscriber's record
        .values(
            unread_issues=Subscriber.unread_issues + 1,
            unread_issue=issue_id,
            updated_at=Subscriber.updated_at,
        )
        .execution_options(synchronize_session=False)
    ).rowcount


def count_engaged(session: Session, issue_id: int, subscriber_ids: Iterable[int]) -> int:
    """These readers opened (a human) or clicked an issue: the count starts again, and a question asked
    is answered. The count stands at this issue at least, so its late `delivered` counts for nothing."""
    ids = _ids(subscriber_ids)
    if not ids:
        return 0
    return session.execute(  # type: ignore[attr-defined]
        update(Subscriber)
        .where(
            Subscriber.id.in_(ids),
            or_(
                Subscriber.unread_issues > 0,
                Subscriber.asked_at.is_not(None),
                Subscriber.unread_issue.is_(None),
                Subscriber.unread_issue < issue_id,
            ),
        )
        .values(
            unread_issues=0,
            asked_at=None,
            unread_issue=case(
                (
                    or_(Subscriber.unread_issue.is_(None), Subscriber.unread_issue < issue_id),
                    issue_id,
                ),
                else_=Subscriber.unread_issue,
            ),
            updated_at=Subscriber.updated_at,
        )
        .execution_options(synchronize_session=False)
    ).rowcount


def _history(session: Session, rows: list[dict]) -> None:
    if rows:
        session.execute(insert(Change), rows)


def ask(session: Session, now: datetime, issues: int, limit: int = CHUNK) -> list[tuple[int, str]]:
    """Claim up to `limit` active readers due to be asked (counted `issues` unread, never asked): marked
    asked now, a history row each. Returns (id, lang) of each, for the caller's mails."""
    due = list(
        session.scalars(
            select(Subscriber.id)
            .where(
                Subscriber.status == Status.ACTIVE,
                Subscriber.asked_at.is_(None),
                Subscriber.unread_issues >= issues,
            )
            .order_by(Subscriber.id)
            .limit(limit)
        )
    )
    if not due:
        return []
    claimed = sorted(
        session.execute(
            update(Subscriber)
            .where(  # again: another run may have asked them since the select
                Subscriber.id.in_(due),
                Subscriber.status == Status.ACTIVE,
                Subscriber.asked_at.is_(None),
                Subscriber.unread_issues >= issues,
            )
            .values(asked_at=now, updated_at=Subscriber.updated_at)
            .returning(Subscriber.id, Subscriber.lang, Subscriber.unread_issues)
            .execution_options(synchronize_session=False)
        ).all()
    )
    _history(
        session,
        [
            {
                "subscriber_id": i,
                "at": now,
                "action": ASKED,
                "source": SOURCE,
                "detail": changes.unread(n),
            }
            for i, _, n in claimed
        ],
    )
    return [(i, lang) for i, lang, _ in claimed]


def pause_unanswered(
    session: Session, now: datetime, answer_days: int = ANSWER_DAYS, limit: int = CHUNK
) -> list[int]:
    """Pause up to `limit` readers asked `answer_days` ago or more who neither read nor answered since
    (either clears `asked_at`). A history row each; nothing else of theirs changes."""
    before = now - timedelta(days=answer_days)
    due = list(
        session.scalars(
            select(Subscriber.id)
            .where(Subscriber.status == Status.ACTIVE, Subscriber.asked_at <= before)
            .order_by(Subscriber.id)
            .limit(limit)
        )
    )
    if not due:
        return []
    paused = sorted(
        session.scalars(
            update(Subscriber)
            .where(
                Subscriber.id.in_(due),
                Subscriber.status == Status.ACTIVE,
                Subscriber.asked_at <= before,
            )
            .values(status=Status.PAUSED, updated_at=now)
            .returning(Subscriber.id)
            .execution_options(synchronize_session=False)
        )
    )
    _history(
        session,
        [
            {
                "subscriber_id": i,
                "at": now,
                "action": PAUSED,
                "source": SOURCE,
                "detail": changes.moved(Status.ACTIVE, Status.PAUSED),
            }
            for i in paused
        ],
    )
    return paused


def run(
    session: Session, now: datetime, issues: int, answer_days: int = ANSWER_DAYS, limit: int = CHUNK
) -> Outcome:
    """One pass of the rule (0 issues: off). The silent are paused before anyone is asked, so nobody is
    asked and paused in one pass."""
    if issues <= 0:
        return Outcome([], [])
    paused = pause_unanswered(session, now, answer_days, limit)
    return Outcome(ask(session, now, issues, limit), paused)


def come_back(
    session: Session, subscriber_id: int, *, source: str, ip: str | None = None
) -> str | None:
    """The reader said they still want it (the mail's button, the preferences page): a paused reader is
    active again from the next issue, an asked one is asked no more, and the count starts again.
    Returns the history action written, or None when there was nothing to change (pressed twice, or
    not theirs to undo: unsubscribed, suppressed or pending readers keep their state)."""
    # the rule may be pausing them this instant: read and written under a lock
    sub = session.get(Subscriber, subscriber_id, with_for_update=True, populate_existing=True)
    if sub is None or sub.status not in (Status.ACTIVE, Status.PAUSED):
        return None
    if sub.status == Status.ACTIVE and sub.asked_at is None:
        return None  # reading, or answered already
    now = utcnow()
    action, before = (CAME_BACK if sub.status == Status.PAUSED else STILL_READING), sub.status
    sub.status, sub.asked_at, sub.unread_issues = Status.ACTIVE, None, 0
    _history(
        session,
        [
            {
                "subscriber_id": sub.id,
                "at": now,
                "action": action,
                "source": source,
                "ip": ip,
                "detail": changes.moved(before, Status.ACTIVE),
            }
        ],
    )
    session.flush()
    return action


def counts(session: Session) -> dict[str, int]:
    """For the desk: readers asked and still silent, and readers paused."""
    asked = select(func.count()).where(
        Subscriber.status == Status.ACTIVE, Subscriber.asked_at.is_not(None)
    )
    paused = select(func.count()).where(Subscriber.status == Status.PAUSED)
    return {
        "asked": int(session.scalar(asked) or 0),
        "paused": int(session.scalar(paused) or 0),
    }
