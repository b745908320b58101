"""The delivery ledger: snapshot recipients and cut batches, in bulk, before anything is sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, literal, select, update
from sqlalchemy.orm import Session

from mailer.db import UTCDateTime
from mailer.delivery.models import Batch, BatchStatus, Delivery, DeliveryStatus
from mailer.issues.models import Edition, Issue
from subscribers.models import Status, Subscriber

ID_CHUNK = 10_000  # delivery ids read at a time while cutting batches


def snapshot_recipients(session: Session, issue: Issue, now: datetime, editions: list[Edition] | None = None) -> int:
    """One ledger row per active subscriber, with the edition of their language: INSERT ... SELECT.

    `editions`: only these (an edition with its own send time is snapshotted when it is due).
    """
    total = 0
    for edition in issue.editions if editions is None else editions:
        source = select(
            literal(issue.id), literal(edition.id), Subscriber.id, Subscriber.email,
            literal(str(DeliveryStatus.QUEUED)), literal(now, UTCDateTime),
        ).where(Subscriber.status == Status.ACTIVE, Subscriber.lang == edition.lang)
        result = session.execute(
            insert(Delivery).from_select(
                ["issue_id", "edition_id", "subscriber_id", "email", "status", "updated_at"], source
            )
        )
        total += result.rowcount
    return total


def cut_batches(session: Session, issue: Issue, size: int, editions: list[Edition] | None = None) -> list[int]:
    """Group the issue's unbatched deliveries, per edition, into batches of at most `size`."""
    batch_ids = []
    for edition in issue.editions if editions is None else editions:
        ids = session.scalars(
            select(Delivery.id)
            .where(Delivery.issue_id == issue.id, Delivery.edition_id == edition.id, Delivery.batch_id.is_(None))
            .order_by(Delivery.id)
            .execution_options(yield_per=ID_CHUNK)
        )
        chunk: list[int] = []
        for delivery_id in ids:
            chunk.append(delivery_id)
            if len(chunk) == size:
                batch_ids.append(_make_batch(session, issue.id, edition.id, chunk))
                chunk = []
        if chunk:
            batch_ids.append(_make_batch(session, issue.id, edition.id, chunk))
    return batch_ids


def _make_batch(session: Session, issue_id: int, edition_id: int, ids: list[int]) -> int:
    batch_id = session.execute(
        insert(Batch).values(
            issue_id=issue_id, edition_id=edition_id, size=len(ids), status=BatchStatus.PENDING
        ).returning(Batch.id)
    ).scalar_one()
    session.execute(
        update(Delivery)
        .where(
            Delivery.issue_id == issue_id, Delivery.edition_id == edition_id,
            Delivery.batch_id.is_(None), Delivery.id.between(ids[0], ids[-1]),
        )
        .values(batch_id=batch_id)
        .execution_options(synchronize_session=False)
    )
    return batch_id
