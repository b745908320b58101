"""A sign-up's work, apart from its page: the limits on confirmation mails, the subscriber, the mail's
outbox row, committed together. The same work for every address (new, pending, subscribed,
unsubscribed, erased, bounced, complained), so that neither the answer nor its time tells them apart."""

from __future__ import annotations

import logging

from mailer.delivery import counters
from mailer.mail import transactional
from mailer.runtime import Runtime
from mailer.web import ratelimit
from subscribers import service, suppression

log = logging.getLogger(__name__)


def sign_up_committed(
    rt: Runtime, limiter: ratelimit.Limiter, address: str, lang: str, ip: str | None
) -> tuple[int, str | None]:
    """(the outbox row to queue, the limit that held its mail back or None), committed. Every sign-up
    writes a row, `skipped` when no mail goes; whether one goes is no business of the caller's page."""
    held = ratelimit.confirmation_held_by(
        limiter, rt.settings, suppression.address_hash(address), ip
    )
    with rt.session() as session:
        subscriber_id = service.request_subscription(session, address, lang, ip=ip)
        mail_id = transactional.record(session, subscriber_id, lang, held=held)
    return mail_id, held


def note_held(rt: Runtime, mail_id: int, held: str) -> None:
    """After the answer: a warning and a metric for a mail a limit held back (the per-network and
    hourly ones mean someone is signing up strangers in bulk)."""
    counters.record_held_confirmation(rt.kv, held)
    if held != "address":
        log.warning("confirmation mail %s held back by the %s limit", mail_id, held)
