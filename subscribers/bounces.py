"""Soft bounces in a row: a reader is suppressed once `limit` issues in a row bounced softly.

A soft bounce (SendGrid's `bounce` of type `blocked`: the receiving server refused this message, not the
address) says little about one issue; the same refusal issue after issue says the address is lost.
Each issue counts once however many events it brings, and a delivered issue later than the last one
counted starts the count again. Issues are ordered by id, so an event arriving late or twice changes
nothing a later issue has shown.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.orm import Session

from subscribers import changes
from subscribers import service as subscribers
from subscribers.models import SUPPRESSED, Change, Status, Subscriber

REENABLED = "re-enabled"  # the history action of a desk's re-enabling


def suppressing_change(session: Session, sub: Subscriber) -> Change | None:
    """The history row that suppressed this reader (the latest bounce or complaint), if they are."""
    if sub.status not in SUPPRESSED:
        return None
    return subscribers.latest_change(session, sub.id, sub.status)


def suppressed_softly(session: Session, sub: Subscriber) -> bool:
    """Bounced for soft bounces in a row: the receiving server refused the mail, not the address, so an
    admin may mail it again. A hard bounce or a complaint is never undone from the desk."""
    change = suppressing_change(session, sub)
    return sub.status == Status.BOUNCED and change is not None and changes.is_soft(change.detail)


def reenable(
    session: Session, sub: Subscriber, *, source: str = "desk", ip: str | None = None
) -> None:
    """An admin mails a softly bounced reader again: active, the count started again, a history row.
    NotAllowed for anyone else (a hard bounce or complaint stays)."""
    if not suppressed_softly(session, sub):
        raise subscribers.NotAllowed(f"{sub.email} cannot be re-enabled", "not_soft")
    sub.status, sub.soft_bounces = Status.ACTIVE, 0
    subscribers.record(
        session,
        sub.id,
        REENABLED,
        source,
        ip=ip,
        detail=changes.moved(Status.BOUNCED, Status.ACTIVE),
    )
    session.flush()


def count_soft_bounce(
    session: Session, subscriber_id: int, issue_id: int, limit: int
) -> Subscriber | None:
    """An issue bounced softly for this reader; returns the reader when this suppressed them."""
    # two events tasks may hold events of the same reader: the count is read and written under a lock
    sub = session.get(Subscriber, subscriber_id, with_for_update=True, populate_existing=True)
    if sub is None or sub.status in SUPPRESSED:
        return None
    if sub.soft_bounce_issue is not None and issue_id <= sub.soft_bounce_issue:
        return None  # counted already, or a later issue was delivered since
    sub.soft_bounces, sub.soft_bounce_issue = sub.soft_bounces + 1, issue_id
    if sub.soft_bounces < limit:
        return None
    subscribers.mark_suppressed(
        session,
        sub.id,
        Status.BOUNCED,
        source="webhook",
        detail=changes.soft_bounces(sub.soft_bounces, issue_id),
    )
    return sub


def count_delivered(session: Session, issue_id: int, subscriber_ids: Iterable[int]) -> int:
    """An issue reached these readers: those counting soft bounces of earlier issues start again, the
    count standing at this issue (a late soft bounce of an earlier one counts no more). One statement,
    touching only readers with a count: delivered events are most of the stream."""
    ids = sorted(set(subscriber_ids))
    if not ids:
        return 0
    return session.execute(  # type: ignore[attr-defined]  # DML gives a CursorResult
        update(Subscriber)
        .where(
            Subscriber.id.in_(ids),
            Subscriber.soft_bounces > 0,
            Subscriber.soft_bounce_issue < issue_id,
        )
        .values(soft_bounces=0, soft_bounce_issue=issue_id)
        .execution_options(synchronize_session=False)
    ).rowcount
