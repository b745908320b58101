"""The batch state machine: a move the table lacks raises, and of two racing moves one wins."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from mailer.db import utcnow
from mailer.delivery import batches, states
from mailer.delivery.models import Batch, BatchStatus
from mailer.delivery.states import BATCH_TRANSITIONS, InvalidTransition, move, moving
from tests.factories import start_send

S = BatchStatus


@pytest.fixture
def issue(issue, subscribers_by_lang):  # this module's issue has readers
    return issue


def test_a_finished_batch_moves_no_more():
    for done in states.TERMINAL:
        assert not any(done in sources for sources in BATCH_TRANSITIONS.values())
        for to in BATCH_TRANSITIONS:
            with pytest.raises(InvalidTransition):
                moving(to, from_=[done])


def test_the_table_refuses_a_move_it_lacks():
    with pytest.raises(InvalidTransition):
        moving(
            S.SENDING, from_=[S.PENDING, S.UNKNOWN]
        )  # an unknown batch is reconciled, not resent
    with pytest.raises(InvalidTransition):
        moving(S.SENDING, from_=[])
    leased = Batch(id=1, status=S.SENDING)
    with pytest.raises(InvalidTransition):
        move(leased, S.SENDING)
    move(leased, S.UNKNOWN)
    with pytest.raises(InvalidTransition):
        move(leased, S.PENDING)  # lost answers are never handed back to be sent blindly
    assert leased.status == S.UNKNOWN


def test_a_racing_second_move_loses(session, issue, settings, runtime):
    """Two workers read the same batch as pending and both try to lease it: one takes it."""
    batch_id = start_send(session, issue, settings, utcnow())[0]
    session.commit()
    make = runtime.sessions
    with make() as first, make() as second:
        for worker in (first, second):
            assert worker.get(Batch, batch_id).status == S.PENDING
        lease = moving(S.SENDING, from_=states.LEASABLE).where(Batch.id == batch_id)
        assert first.scalar(lease.returning(Batch.id)) == batch_id
        first.commit()
        assert second.scalar(lease.returning(Batch.id)) is None
        second.commit()
    session.expire_all()
    assert session.get(Batch, batch_id).status == S.SENDING


def test_a_batch_leased_twice_is_sent_once(session, issue, settings):
    batch_id = start_send(session, issue, settings, utcnow())[0]
    session.commit()
    now = utcnow()
    assert batches._lease(session, batch_id, now, settings).status == S.SENDING
    assert batches._lease(session, batch_id, now, settings) is None
    # the lease lapses mid-request: the sweep takes it for lost; the worker's late answer moves nothing
    session.execute(
        moving(S.UNKNOWN, from_=[S.SENDING])
        .where(Batch.id == batch_id)
        .values(leased_until=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    late = moving(S.ACCEPTED, from_=[S.SENDING]).where(Batch.id == batch_id)
    assert session.scalar(late.returning(Batch.id)) is None
    session.commit()
    assert session.scalar(select(Batch.status).where(Batch.id == batch_id)) == S.UNKNOWN
    assert batches._lease(session, batch_id, now + timedelta(minutes=5), settings) is None


def test_a_cancel_that_comes_first_wins_over_reconciling(
    session, issue, settings, monkeypatch, runtime
):
    """A reconciler read the batch as unknown; a cancel closes it (and its waiting deliveries) before
    the reconciler finds no recipient left unconfirmed: the batch stays cancelled, not accepted."""
    from mailer.delivery.lifecycle import cancel_issue
    from mailer.events import reconcile
    from mailer.issues.models import Issue

    batch_id = start_send(session, issue, settings, utcnow())[0]
    session.commit()
    lost_at = utcnow() - timedelta(seconds=settings.reconcile_grace_seconds + 60)
    batches._lease(session, batch_id, lost_at, settings)
    session.execute(
        moving(S.UNKNOWN, from_=[S.SENDING])
        .where(Batch.id == batch_id)
        .values(leased_until=None, updated_at=lost_at)
        .execution_options(synchronize_session=False)
    )
    session.commit()

    def cancel_meanwhile(_session, _moment):
        with runtime.sessions() as editor:
            cancel_issue(editor, editor.get(Issue, issue.id), utcnow())
            editor.commit()
        return True

    monkeypatch.setattr(reconcile, "_webhooks_past", cancel_meanwhile)
    assert reconcile.reconcile_batch(session, batch_id, utcnow(), settings).status == "skipped"
    assert session.scalar(select(Batch.status).where(Batch.id == batch_id)) == S.CANCELLED


def test_only_an_admins_resend_moves_a_failed_batch_and_only_a_failed_one(session, issue, settings):
    batch_ids = start_send(session, issue, settings, utcnow())
    session.execute(update(Batch).where(Batch.id == batch_ids[0]).values(status=S.FAILED))
    session.commit()
    moved = session.scalars(states.resending().returning(Batch.id)).all()
    assert moved == [batch_ids[0]]
    assert session.scalars(states.resending().returning(Batch.id)).all() == []
