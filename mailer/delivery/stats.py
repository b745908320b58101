"""Progress and counts of an issue's deliveries, by edition language."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.delivery.models import Batch, BatchStatus, Delivery, shown_status
from mailer.issues.models import Edition, Issue
from mailer.issues.states import IssueStatus

PARTLY_SENT = (
    "partly sent"  # shown, not stored: `sending`, every started edition done, others not started
)


def delivery_counts(session: Session, issue_id: int) -> dict[str, dict[str, int]]:
    """{edition lang: {delivery status (as shown): count}}."""
    status = shown_status()
    rows = session.execute(
        select(Edition.lang, status, func.count())
        .join(Edition, Edition.id == Delivery.edition_id)
        .outerjoin(Batch, Batch.id == Delivery.batch_id)
        .where(Delivery.issue_id == issue_id)
        .group_by(Edition.lang, status)
    )
    counts: dict[str, dict[str, int]] = {}
    for lang, status, n in rows:
        counts.setdefault(lang, {})[status] = n
    return counts


OUTCOMES = (
    "sent",
    "cancelled",
    "failed",
    "suppressed",
    "waiting",
)  # what became of each recipient, as Progress counts


@dataclass(frozen=True)
class Progress:
    """Where an issue's send stands, for every place that shows it (ops status, `issue show`, `--wait`,
    /metrics, the desk). Read from the batches, one row per 1,000 recipients, so it is cheap to poll."""

    status: str
    total: int = 0  # recipients in the ledger so far
    sent: int = 0  # accepted by the provider (or written to the outbox)
    cancelled: int = 0  # their batch was closed by a cancel before it went out
    failed: int = 0  # their batch failed for good, or the provider refused their address
    suppressed: int = (
        0  # no longer to be mailed when their batch went out (unsubscribed, bounced, erased)
    )
    ledger_pending: tuple[str, ...] = ()  # started editions whose ledger is still being written
    unscheduled: tuple[
        str, ...
    ] = ()  # editions not started and with no send time: waiting for an editor
    scheduled: tuple[
        str, ...
    ] = ()  # editions not started, with a send time: beat starts each when due

    @property
    def done(self) -> int:
        """Recipients whose batch is settled, whatever the outcome."""
        return self.sent + self.cancelled + self.failed + self.suppressed

    @property
    def waiting(self) -> int:
        return self.total - self.done

    @property
    def state(self) -> str:
        """The issue's status, or "partly sent" when it is `sending` with nothing left to do until an
        edition not started yet is started (by its send time, or by an editor giving it one)."""
        idle = not self.waiting and not self.ledger_pending
        if self.status == IssueStatus.SENDING and idle and (self.unscheduled or self.scheduled):
            return PARTLY_SENT
        return self.status

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "state": self.state,
            "done": self.done,
            "waiting": self.waiting,
            "ledger_pending": list(self.ledger_pending),
            "unscheduled": list(self.unscheduled),
            "scheduled": list(self.scheduled),
        }

    def summary(self) -> str:
        """'1540/3182 sent (cancelled 1642)': sent of all, and only the other outcomes that happened."""
        apart = [
            f"{name} {n}"
            for name, n in (
                ("cancelled", self.cancelled),
                ("failed", self.failed),
                ("suppressed", self.suppressed),
            )
            if n
        ]
        waiting = [f"waiting {self.waiting}"] if self.waiting and self.done else []
        rest = apart + waiting
        return f"{self.sent}/{self.total} sent" + (f" ({', '.join(rest)})" if rest else "")


def _outcomes(by_status: dict[str, tuple[int, int, int]]) -> dict[str, int]:
    """Recipients by outcome from {batch status: (size, suppressed, invalid)} sums."""

    def unsent_of(status: str) -> int:  # recipients of these batches neither suppressed nor refused
        size, suppressed, invalid = by_status.get(status, (0, 0, 0))
        return int(size - suppressed - invalid)

    return {
        "total": int(sum(size for size, _, _ in by_status.values())),
        "sent": unsent_of(BatchStatus.ACCEPTED),
        "cancelled": unsent_of(BatchStatus.CANCELLED),
        "failed": unsent_of(BatchStatus.FAILED)
        + int(sum(invalid for _, _, invalid in by_status.values())),
        "suppressed": int(sum(suppressed for _, suppressed, _ in by_status.values())),
    }


def _batch_sums(session: Session, issue: Issue, *by) -> Sequence:
    """(*by, batch status, size, suppressed, invalid) sums of the issue's batches."""
    query = select(
        *by, Batch.status, func.sum(Batch.size), func.sum(Batch.suppressed), func.sum(Batch.invalid)
    )
    if by:  # grouped by an edition's column
        query = query.join(Edition, Edition.id == Batch.edition_id)
    return session.execute(
        query.where(Batch.issue_id == issue.id).group_by(*by, Batch.status)
    ).all()


def progress(session: Session, issue: Issue) -> Progress:
    """The issue's progress now: one grouped query over its batches, and its editions."""
    by_status = {
        status: (size, suppressed, invalid)
        for status, size, suppressed, invalid in _batch_sums(session, issue)
    }
    editions = session.execute(
        select(Edition.lang, Edition.started_at, Edition.send_at, Edition.ledger_done_at)
        .where(Edition.issue_id == issue.id)
        .order_by(Edition.id)
    ).all()
    return Progress(
        status=issue.status,
        **_outcomes(by_status),
        ledger_pending=tuple(lang for lang, started, _, done in editions if started and not done),
        unscheduled=tuple(
            lang for lang, started, send_at, _ in editions if not started and not send_at
        ),
        scheduled=tuple(lang for lang, started, send_at, _ in editions if not started and send_at),
    )


def edition_progress(session: Session, issue: Issue) -> dict[str, dict[str, int]]:
    """{edition lang: {total, sent, cancelled, failed, suppressed}}, from the batches as progress() reads them;
    an edition with no batches yet is absent."""
    grouped: dict[str, dict[str, tuple[int, int, int]]] = {}
    for lang, status, size, suppressed, invalid in _batch_sums(session, issue, Edition.lang):
        grouped.setdefault(lang, {})[status] = (size, suppressed, invalid)
    return {lang: _outcomes(by_status) for lang, by_status in grouped.items()}


def left_unscheduled(session: Session) -> list[tuple[int, list[str]]]:
    """Issues under way (scheduled or sending) with editions that have no send time and never will without
    an editor: [(issue number, [edition langs])]."""
    rows = session.execute(
        select(Issue.number, Edition.lang)
        .join(Edition, Edition.issue_id == Issue.id)
        .where(
            Issue.status.in_([IssueStatus.SCHEDULED, IssueStatus.SENDING]),
            Edition.started_at.is_(None),
            Edition.send_at.is_(None),
        )
        .order_by(Issue.number, Edition.id)
    )
    found: dict[int, list[str]] = {}
    for number, lang in rows:
        found.setdefault(number, []).append(lang)
    return list(found.items())
