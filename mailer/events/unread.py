"""Moving readers' unread counts (subscribers.sunset) once per issue, from its ledger, days after it
finished: by then its `delivered` events are in (SendGrid retries deferred mail for up to 72 hours), and
a delivery still `delivered` was neither opened by a human nor clicked (a machine's open leaves it so).

Done by beat's daily sunset pass rather than as each `delivered` event is applied: there it wrote every
reader's row once more per issue, on the webhook's hot path (benchmarks/sunset_apply.py: 12% to 45% of
apply's throughput in two runs on a shared machine). A human open or click still resets the count as it is applied. Issue ids
order the count, so an issue counted twice, or after a reader opened it, counts for nothing more.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailer.delivery.models import Delivery, DeliveryStatus
from mailer.issues.models import Issue
from subscribers import sunset

SETTLE = timedelta(days=3)
CHUNK = 5000  # ledger rows read, and readers updated, per statement


def settled_issues(session: Session, now: datetime) -> list[int]:
    """Issues finished at least SETTLE ago whose readers are not counted yet, oldest first."""
    return list(
        session.scalars(
            select(Issue.id)
            .where(
                Issue.finished_at.is_not(None),
                Issue.finished_at <= now - SETTLE,
                Issue.unread_counted_at.is_(None),
            )
            .order_by(Issue.id)
        )
    )


def count_issue(session: Session, issue_id: int, now: datetime) -> int:
    """One unread issue more for each reader it was delivered to and who did not read it; the issue is
    marked counted. Returns how many readers' counts moved. A ledger already pruned counts nobody."""
    moved, after = 0, 0
    while True:
        rows = session.execute(
            select(Delivery.id, Delivery.subscriber_id)
            .where(
                Delivery.issue_id == issue_id,
                Delivery.status == DeliveryStatus.DELIVERED,
                Delivery.id > after,
            )
            .order_by(Delivery.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        after = rows[-1][0]
        moved += sunset.count_delivered(session, issue_id, [s for _, s in rows if s is not None])
    session.execute(
        update(Issue)
        .where(Issue.id == issue_id)
        .values(unread_counted_at=now, updated_at=Issue.updated_at)
        .execution_options(synchronize_session=False)
    )
    return moved
