"""The batch state machine: the one place that says which moves a batch makes, and the only writer of
a batch's status.

A batch is pending, leased by a worker (sending), then accepted, retrying, unknown (the answer lost:
reconciled, never blindly resent), failed or cancelled. A move is written one of two ways:
- `moving()`: an UPDATE ... WHERE status IN (the states it moves from), a compare-and-set: of two
  workers (or a worker and the sweep, or two reconcilers) racing for a batch, one wins;
- `move()`: a batch this worker has leased, moved off `sending` with its other changes in the UPDATE
  the session flushes anyway. The lease was the compare-and-set; no one else moves a leased batch
  before its lease lapses, but the sweep when webhook evidence covers its request (it was accepted:
  its worker, if alive, records the same).
"""

from collections.abc import Iterable

from sqlalchemy import Update, update

from mailer.delivery.models import Batch, BatchStatus

S = BatchStatus
# target -> the states it may be reached from
BATCH_TRANSITIONS: dict[BatchStatus, frozenset[BatchStatus]] = {
    S.SENDING: frozenset({S.PENDING, S.RETRYING}),  # leased by a worker
    # handed back unsent: the issue paused, credentials refused, or the lease lapsed before the request
    S.PENDING: frozenset({S.SENDING}),
    S.ACCEPTED: frozenset({S.SENDING, S.UNKNOWN}),  # the provider's answer, or evidence of it
    # a transient refusal or a rate-limit wait; a lost answer's recipients without evidence
    S.RETRYING: frozenset({S.SENDING, S.UNKNOWN}),
    S.UNKNOWN: frozenset({S.SENDING}),  # the answer lost, or the lease lapsed mid-request
    S.FAILED: frozenset({S.SENDING}),
    S.CANCELLED: frozenset({S.PENDING, S.SENDING, S.RETRYING, S.UNKNOWN}),
}
BATCH_OPEN = frozenset({S.PENDING, S.SENDING, S.RETRYING, S.UNKNOWN})
TERMINAL = frozenset({S.ACCEPTED, S.FAILED, S.CANCELLED})
LEASABLE = (S.PENDING, S.RETRYING)


class InvalidTransition(Exception):
    pass


def moving(to: BatchStatus, *, from_: Iterable[BatchStatus]) -> Update:
    """UPDATE batches SET status = `to` WHERE status IN `from_`, for the caller to narrow (its rows,
    its conditions) and extend (other values, RETURNING). The rowcount, or what RETURNING brings back,
    says which rows this move won. Raises InvalidTransition for a move the table lacks."""
    sources = tuple(from_)
    if not sources or not BATCH_TRANSITIONS[to].issuperset(sources):
        raise InvalidTransition(
            f"a batch cannot become {to} from {', '.join(sources) or 'nothing'}"
        )
    return update(Batch).where(Batch.status.in_(sources)).values(status=to)


def resending() -> Update:
    """UPDATE batches SET status = pending WHERE status = failed: the one move out of a finished state,
    an admin's resend (delivery/resend.py), never a worker's. A compare-and-set like `moving()`."""
    return update(Batch).where(Batch.status == S.FAILED).values(status=S.PENDING)


def move(batch: Batch, to: BatchStatus) -> None:
    """Move a batch this worker holds under its lease; written with the session's next flush. Raises
    InvalidTransition for a move the table lacks."""
    if batch.status not in BATCH_TRANSITIONS[to]:
        raise InvalidTransition(f"batch {batch.id} is {batch.status}; it cannot become {to}")
    batch.status = to
