"""Reconciling a lost answer when the webhook stream is quiet: a probe through the same path (the real
SendGrid client, against the stand-in over HTTP) makes the stream pass the loss."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer.config import Settings
from mailer.delivery.models import Batch, BatchStatus
from mailer.events import reconcile
from mailer.mail.sendgrid import SendGridSender
from mailer.standin import Faults, StandIn

from .test_webhook import post

PROBE = "probe@news.example.com"


@pytest.fixture
def standin():
    with StandIn(api_key="SG.test", faults=Faults(), keep_payloads=True) as s:
        yield s


@pytest.fixture
def sender(standin):
    return SendGridSender("SG.test", standin.url, timeout=5)


@pytest.fixture
def lost(session, deliveries):
    """A batch whose answer was lost a moment ago, none of its recipients confirmed."""
    batch = session.get(Batch, deliveries[0].batch_id)
    batch.status = BatchStatus.UNKNOWN
    session.commit()
    return batch


def _probes(standin) -> list[dict]:
    return [r for r in standin.accepted() if r["recipients"] == [PROBE]]


def _with_probe(settings) -> Settings:
    return settings.model_copy(update={"probe_email": PROBE})


def test_a_quiet_stream_gets_one_probe_and_its_event_ends_the_wait(
    webhook_client, session, lost, standin, sender, settings
):
    settings = _with_probe(settings)
    after_grace = lost.updated_at + timedelta(seconds=settings.reconcile_grace_seconds + 1)
    waiting = reconcile.reconcile_batch(session, lost.id, after_grace, settings, sender)
    assert waiting.status == BatchStatus.UNKNOWN
    [sent] = _probes(standin)
    assert (
        session.get(Batch, lost.id, populate_existing=True).updated_at == lost.updated_at
    )  # still the loss
    assert sent["custom_args"] == [{"probe": str(lost.id)}] and sent["payload"]["categories"] == [
        "probe"
    ]
    # asked again before the probe's event came: no second probe
    reconcile.reconcile_batch(
        session, lost.id, after_grace + timedelta(seconds=1), settings, sender
    )
    assert len(_probes(standin)) == 1
    # the probe's `processed` event, as SendGrid stamps it: after the loss
    stamp = int(after_grace.timestamp()) + 1
    assert (
        post(
            webhook_client,
            [
                {
                    "event": "processed",
                    "email": PROBE,
                    "timestamp": stamp,
                    "sg_event_id": "probe-1",
                    "probe": str(lost.id),
                }
            ],
        ).status_code
        == 200
    )
    outcome = reconcile.reconcile_batch(
        session, lost.id, after_grace + timedelta(seconds=2), settings, sender
    )
    assert (
        outcome.status == BatchStatus.RETRYING and outcome.retry_in == 0
    )  # its own events are missing: resent


def test_a_probe_lost_on_its_way_is_sent_again_a_grace_period_later(
    session, lost, standin, sender, settings
):
    settings = _with_probe(settings)
    standin.faults = Faults(None, script=["500"])
    after_grace = lost.updated_at + timedelta(seconds=settings.reconcile_grace_seconds + 1)
    assert (
        reconcile.reconcile_batch(session, lost.id, after_grace, settings, sender).status
        == BatchStatus.UNKNOWN
    )
    assert _probes(standin) == []
    reconcile.reconcile_batch(
        session, lost.id, after_grace + timedelta(seconds=1), settings, sender
    )
    assert _probes(standin) == []  # recorded as sent: not tried again at once
    again = after_grace + timedelta(seconds=settings.reconcile_grace_seconds + 1)
    reconcile.reconcile_batch(session, lost.id, again, settings, sender)
    assert len(_probes(standin)) == 1


def test_one_probe_serves_every_batch_lost_before_it(
    session, deliveries, standin, sender, settings
):
    settings = _with_probe(settings)
    ids = sorted({d.batch_id for d in deliveries})[:2]
    for batch in session.scalars(select(Batch).where(Batch.id.in_(ids))):
        batch.status = BatchStatus.UNKNOWN
    session.commit()
    after_grace = max(session.get(Batch, i).updated_at for i in ids) + timedelta(
        seconds=settings.reconcile_grace_seconds + 1
    )
    for batch_id in ids:
        reconcile.reconcile_batch(session, batch_id, after_grace, settings, sender)
    assert len(_probes(standin)) == 1


def test_without_a_probe_address_the_bounded_wait_stays(session, lost, standin, sender, settings):
    assert not settings.probe_email
    after_grace = lost.updated_at + timedelta(seconds=settings.reconcile_grace_seconds + 1)
    assert (
        reconcile.reconcile_batch(session, lost.id, after_grace, settings, sender).status
        == BatchStatus.UNKNOWN
    )
    assert standin.accepted() == []
    overdue = lost.updated_at + timedelta(seconds=settings.reconcile_max_wait_seconds + 1)
    assert reconcile.reconcile_batch(session, lost.id, overdue, settings, sender).retry_in == 0
