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
from subscribers.models import SUPPRESSED, Status, Subscriber


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
        detail=changes.soft_bounces(sub.soft_bounces),
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
