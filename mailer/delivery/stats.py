"""Progress and counts of an issue's deliveries, by edition language."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.delivery.models import Batch, BatchStatus, Delivery
from mailer.issues.models import Edition


def delivery_counts(session: Session, issue_id: int) -> dict[str, dict[str, int]]:
    """{edition lang: {delivery status: count}}."""
    rows = session.execute(
        select(Edition.lang, Delivery.status, func.count())
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.issue_id == issue_id)
        .group_by(Edition.lang, Delivery.status)
    )
    counts: dict[str, dict[str, int]] = {}
    for lang, status, n in rows:
        counts.setdefault(lang, {})[status] = n
    return counts


def batch_progress(session: Session, issue_id: int) -> tuple[int, int]:
    """(recipients in finished batches, all recipients)."""
    done_states = [BatchStatus.ACCEPTED, BatchStatus.FAILED, BatchStatus.CANCELLED]
    total = session.scalar(select(func.coalesce(func.sum(Batch.size), 0)).where(Batch.issue_id == issue_id))
    done = session.scalar(
        select(func.coalesce(func.sum(Batch.size), 0)).where(Batch.issue_id == issue_id, Batch.status.in_(done_states))
    )
    return int(done), int(total)
