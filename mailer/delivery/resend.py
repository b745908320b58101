"""Resending an issue's failed batches: an admin's action (the desk, `mailer issue resend-failed`).

A failed batch got no acceptance, so its recipients that failed with it go back to `queued` and the
batch to `pending`, to be sent like any other. Recipients with evidence of their own (refused for their
address, or any webhook event) keep it and are not mailed again: the ledger keeps each reader to one
copy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mailer.db import compare_and_set, utcnow
from mailer.delivery.models import Batch, BatchStatus, Delivery, DeliveryStatus
from mailer.delivery.states import resending
from mailer.issues.models import Issue
from mailer.issues.service import IssueError
from mailer.issues.states import RESENDABLE, IssueStatus

NOT_RESENDABLE = "not_resendable"
NOTHING_FAILED = "nothing_failed"


def _failed(issue_id: int):
    return select(Batch.id).where(Batch.issue_id == issue_id, Batch.status == BatchStatus.FAILED)


def failed_readers(session: Session, issue: Issue) -> int:
    """How many readers a resend would mail: those of the failed batches that failed with them."""
    return (
        session.scalar(
            select(func.count()).where(
                Delivery.issue_id == issue.id,  # PostgreSQL: the issue's ledger partition alone
                Delivery.batch_id.in_(_failed(issue.id)),
                Delivery.status == DeliveryStatus.FAILED,
            )
        )
        or 0
    )


def resend_failed(session: Session, issue: Issue, now: datetime) -> list[int]:
    """Move the issue's failed batches back to `pending` and the issue back to `sending`, in one
    transaction (the caller commits, then queues them). Returns the batch ids. Raises IssueError when
    the issue is not finished or nothing of it failed, having changed nothing."""
    if issue.status not in RESENDABLE:
        raise IssueError(
            f"issue #{issue.number} is {issue.status}: only a sent or failed issue's failed "
            "batches can be resent",
            NOT_RESENDABLE,
            number=issue.number,
        )
    batch_ids = list(session.scalars(_failed(issue.id).order_by(Batch.id)))
    if not batch_ids:
        raise IssueError(
            f"issue #{issue.number} has no failed batch to resend",
            NOTHING_FAILED,
            number=issue.number,
        )
    # compare-and-set: of two admins resending at once, one does it
    if not compare_and_set(
        session,
        Issue,
        issue.id,
        RESENDABLE,
        status=IssueStatus.SENDING,
        finished_at=None,
        status_reason=None,
        updated_at=utcnow(),
    ):
        raise IssueError(
            f"issue #{issue.number} changed meanwhile; look again",
            NOT_RESENDABLE,
            number=issue.number,
        )
    session.execute(
        update(Delivery)
        .where(
            Delivery.issue_id == issue.id,
            Delivery.batch_id.in_(batch_ids),
            Delivery.status == DeliveryStatus.FAILED,
        )
        .values(status=DeliveryStatus.QUEUED, error=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    moved = session.scalars(
        resending()
        .where(Batch.id.in_(batch_ids))
        .values(attempts=0, leased_until=None, request_started_at=None, updated_at=now)
        .returning(Batch.id)
        .execution_options(synchronize_session=False)
    ).all()
    session.refresh(issue)
    return sorted(moved)
