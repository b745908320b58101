"""Shared test factories: what several test modules build the same way."""

from __future__ import annotations

from datetime import datetime

from mailer.config import Settings
from mailer.delivery.lifecycle import resume_issue
from mailer.delivery.models import Batch, Delivery, shown_status
from mailer.delivery.start import begin_send, start_editions
from mailer.issues.models import Issue
from mailer.issues.states import IssueStatus


def start_send(session, issue: Issue, settings: Settings, now: datetime) -> list[int]:
    """Every edition's ledger written in the caller's transaction and nothing queued (a paused issue
    resumes): what delivery.facade.send_now does before it hands batches on, for tests that drive the
    batches themselves. Returns the batch ids."""
    if issue.status == IssueStatus.PAUSED:
        return resume_issue(session, issue)
    return start_editions(session, issue, begin_send(session, issue, now), settings, now)


def shown_statuses(session, *where) -> list[str]:
    """The deliveries' statuses as counted and shown (a queued one of an accepted batch reads `sent`), by id."""
    from sqlalchemy import select

    return list(
        session.scalars(
            select(shown_status())
            .outerjoin(Batch, Batch.id == Delivery.batch_id)
            .where(*where)
            .order_by(Delivery.id)
        )
    )
