"""A lost answer whose every recipient's webhook evidence is already in is settled by the next sweep,
not after the grace period: the evidence is the answer."""

from datetime import timedelta

from sqlalchemy import select

from mailer.delivery import lifecycle
from mailer.delivery.models import Batch, BatchStatus, Delivery
from mailer.events import reconcile

from .test_webhook import _event, post


def _lose(session, deliveries) -> tuple[Batch, list[Delivery]]:
    batch = session.get(Batch, deliveries[0].batch_id)
    batch.status = BatchStatus.UNKNOWN
    session.commit()
    members = session.scalars(
        select(Delivery).where(Delivery.batch_id == batch.id).order_by(Delivery.id)
    ).all()
    assert len(members) > 1
    return batch, members


def _settle(session, batch, settings) -> str:
    """One sweep a minute after the loss, well inside the grace period, and the reconciling it asks."""
    soon = batch.updated_at + timedelta(seconds=60)
    assert settings.reconcile_grace_seconds > 60
    found = lifecycle.sweep(session, soon, settings)
    if batch.id in found.reconcile:
        reconcile.reconcile_batch(session, batch.id, soon, settings)
    return session.get(Batch, batch.id, populate_existing=True).status


def test_full_evidence_settles_the_batch_at_the_next_sweep(
    webhook_client, session, deliveries, settings
):
    batch, members = _lose(session, deliveries)
    events = [_event("processed", d) for d in members] + [_event("delivered", members[0])]
    assert post(webhook_client, events).status_code == 200
    assert _settle(session, batch, settings) == BatchStatus.ACCEPTED


def test_partial_evidence_still_waits_out_the_grace_period(
    webhook_client, session, deliveries, settings
):
    batch, members = _lose(session, deliveries)
    assert post(webhook_client, [_event("processed", d) for d in members[1:]]).status_code == 200
    assert _settle(session, batch, settings) == BatchStatus.UNKNOWN
    soon = batch.updated_at + timedelta(seconds=60)
    assert reconcile.reconcile_batch(session, batch.id, soon, settings).reconcile_in


def test_a_silent_worker_s_request_covered_by_evidence_settles_without_its_lease(
    webhook_client, session, deliveries, settings
):
    """The worker died after the provider took its request, before it read the 202: the batch is still
    leased, for minutes. Its evidence is the answer: the next sweep settles it."""
    from mailer.db import utcnow
    from mailer.delivery import batches

    batch_id = deliveries[0].batch_id
    now = utcnow()
    leased = batches._lease(session, batch_id, now, settings)
    leased.request_started_at = now
    session.commit()
    members = session.scalars(select(Delivery).where(Delivery.batch_id == batch_id)).all()
    assert post(webhook_client, [_event("processed", d) for d in members[1:]]).status_code == 200
    soon = now + timedelta(seconds=30)  # well inside the lease
    assert batch_id not in lifecycle.sweep(session, soon, settings).reconcile  # not all of it yet
    assert session.get(Batch, batch_id, populate_existing=True).status == BatchStatus.SENDING
    assert post(webhook_client, [_event("processed", members[0])]).status_code == 200
    assert batch_id in lifecycle.sweep(session, soon, settings).reconcile
    assert reconcile.reconcile_batch(session, batch_id, soon, settings).status == "accepted"
    assert session.get(Batch, batch_id, populate_existing=True).status == BatchStatus.ACCEPTED
