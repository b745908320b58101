"""A worker that dies holding a batch: the request mark tells a batch that never went out (sent again at
once) from one that may have (reconciled from webhook evidence)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer.db import utcnow
from mailer.delivery import batches, lifecycle
from mailer.delivery.models import Batch, BatchStatus
from mailer.kv import MemoryStore
from mailer.mail.senders import OutboxSender
from tests.factories import start_send

pytestmark = pytest.mark.usefixtures("subscribers_by_lang")  # this module's issue has readers


def _lapsed(settings, leased_at):
    return leased_at + timedelta(seconds=settings.batch_lease_seconds + 1)


def test_a_lease_lapsed_before_its_request_is_sent_again_at_once(session, issue, settings):
    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    now = utcnow()
    assert batches._lease(
        session, first, now, settings
    )  # a worker took it, then died before its request
    found = lifecycle.sweep(session, _lapsed(settings, now), settings)
    assert first in found.send and first not in found.reconcile
    batch = session.get(Batch, first, populate_existing=True)
    assert batch.status == BatchStatus.PENDING and batch.leased_until is None
    assert "before its request" in batch.last_error
    outcome = batches.send_batch(
        session,
        first,
        sender=OutboxSender(settings.outbox_dir),
        settings=settings,
        store=MemoryStore(),
    )
    assert outcome.status == BatchStatus.ACCEPTED


def test_a_lease_lapsed_mid_request_is_reconciled_not_resent(session, issue, settings):
    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    now = utcnow()
    batch = batches._lease(session, first, now, settings)
    batch.request_started_at = now  # the mark is on record: the request may have gone out
    session.commit()
    found = lifecycle.sweep(session, _lapsed(settings, now), settings)
    assert first not in found.send
    batch = session.get(Batch, first, populate_existing=True)
    assert batch.status == BatchStatus.UNKNOWN and "mid-request" in batch.last_error
    assert batch.updated_at == now + timedelta(
        seconds=settings.batch_lease_seconds
    )  # lost as of the lease's end


def test_the_mark_is_committed_before_the_request_and_cleared_by_the_next_lease(
    session, issue, settings, runtime
):
    [first, *_] = start_send(session, issue, settings, utcnow())
    session.commit()
    seen = []

    class Watching(OutboxSender):
        def send(self, batch):
            with runtime.session() as other:  # another connection sees only what is committed
                seen.append(
                    other.scalar(select(Batch.request_started_at).where(Batch.id == batch.batch_id))
                )
            return super().send(batch)

    batches.send_batch(
        session, first, sender=Watching(settings.outbox_dir), settings=settings, store=MemoryStore()
    )
    assert len(seen) == 1 and seen[0] is not None
    batch = session.get(Batch, first, populate_existing=True)
    batch.status = BatchStatus.RETRYING  # as reconciliation hands a batch back
    session.commit()
    assert batches._lease(session, first, utcnow(), settings).request_started_at is None
