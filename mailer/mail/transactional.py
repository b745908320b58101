"""Transactional mail: one message to one person (the sign-up confirmation, the welcome mail on the
first confirmation, the "still want this?" mail of the sunset rule), rendered once, sent now. One row is
no mail but a request of the same kind: SendGrid asked to forget a bounce (MailKind.FORGET_BOUNCE).

What to send is a row of the outbox table (mailer.mail.models), written in the sign-up's own transaction;
after the commit a task on the `mail` queue sends it (in-process without a broker). A row the broker never
got (it was down) is queued by beat's sweep once it is back: nothing lost, and the row's claim keeps a
second copy of the task from sending it again.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import DBAPIError

from mailer import langs
from mailer.celery_app import STORE_RETRIES, app, runtime_of, store_retry_in
from mailer.config import Settings
from mailer.db import connection_lost, utcnow
from mailer.mail.message import OutgoingBatch, to_one_reader
from mailer.mail.models import MailKind, MailStatus, OutboxMail
from mailer.mail.reengage import reengage_message
from mailer.mail.senders import SendError, backoff
from mailer.mail.welcome import welcome_message
from mailer.rendering.render import render_email
from mailer.runtime import Runtime
from subscribers import service, tokens

log = logging.getLogger(__name__)
CONFIRM_EMAIL = "confirm"  # templates/email/<lang>/confirm/
MAX_RETRIES = 5
SEND_MAIL = "mailer.send_mail"
SWEEP_MAX = 1000  # rows queued by one sweep; the next takes the rest


def confirmation_context(subscriber_id: int, kind: str, lang: str, settings: Settings) -> dict:
    return {
        "kind": kind,  # confirm: not subscribed yet; already: subscribed, so the preferences instead
        "lang": lang,
        "html_lang": langs.html_lang(lang),
        **langs.brands(settings.from_name_ko, settings.from_name_en, lang),
        "forms": {"brand": {langs.KO: settings.from_name_ko, langs.EN: settings.from_name_en}},
        "postal_lines": langs.marked(settings.postal_lines),  # CAN-SPAM
        "confirm_url": tokens.link(tokens.CONFIRM, subscriber_id, settings, lang=lang)
        if kind == service.CONFIRM_MAIL
        else "",
        "preferences_url": tokens.link(tokens.PREFERENCES, subscriber_id, settings),
        "expires_days": tokens.CONFIRM_MAX_AGE_DAYS,
    }


def confirmation_message(
    session, subscriber_id: int, lang: str, number: int, settings: Settings
) -> OutgoingBatch | None:
    """The mail a sign-up request sends, in the language chosen on the form; None when it sends none.
    `number` (the outbox row's id) names the message: the outbox backend's file, a custom arg for SendGrid.

    What to say is decided now, from the subscriber as they are when the mail goes out.
    """
    sub = service.get(session, subscriber_id)
    # An address that bounced hard is still on SendGrid's bounce list: the mail must pass it.
    bounced = sub is not None and service.bounced_hard(session, sub)
    kind = service.confirmation_kind(sub, bounced_hard=bounced)
    if kind is None or sub is None:
        return None
    rendered = render_email(
        CONFIRM_EMAIL, lang, confirmation_context(subscriber_id, kind, lang, settings)
    )
    message = to_one_reader(
        settings,
        lang,
        rendered,
        kind=kind,
        folder=CONFIRM_EMAIL,
        number=number,
        email=sub.email,
        subscriber_id=subscriber_id,
    )
    return dataclasses.replace(message, bypass_bounces=bounced)


@dataclasses.dataclass(frozen=True)
class ForgetBounce:
    """What a FORGET_BOUNCE row asks of the sender: take this address off SendGrid's bounce list."""

    email: str


def forgetting_bounce(session, subscriber_id: int) -> bool:
    """Whether SendGrid may still list this reader's address as bounced: asked to forget, not done yet."""
    return (
        session.scalar(
            select(OutboxMail.id)
            .where(
                OutboxMail.subscriber_id == subscriber_id,
                OutboxMail.kind == MailKind.FORGET_BOUNCE,
                OutboxMail.status.in_([MailStatus.PENDING, MailStatus.SENDING]),
            )
            .limit(1)
        )
        is not None
    )


# The row a sign-up for a suppressed address writes names nobody (ids start at 1): it is written all the
# same, `skipped`, so that such a sign-up's transaction writes what every other one does.
NOBODY = 0
# What a skipped row says of the limit that held it (mailer.web.ratelimit.confirmation_held_by).
HELD_BY = {
    "address": "per-address mail limit",
    "network": "per-network mail limit",
    "hourly": "hourly mail limit",
}


def record(
    session,
    subscriber_id: int | None,
    lang: str,
    *,
    held: str | None = None,
    now: datetime | None = None,
    kind: MailKind = MailKind.CONFIRMATION,
) -> int:
    """Write the mail to send in the caller's transaction (the sign-up's): committed with it, or not at all.

    The same INSERT whether the mail goes, a limit holds it back (`held`: which one) or the address is
    suppressed (no subscriber to mail): a sign-up's statements must not tell one address from another.
    A mail that does not go is written `skipped` and never sent.
    """
    now = now or utcnow()
    reason = "suppressed" if subscriber_id is None else HELD_BY.get(held or "")
    return session.scalar(
        insert(OutboxMail)
        .values(
            kind=kind.value,
            subscriber_id=NOBODY if subscriber_id is None else subscriber_id,
            lang=lang,
            created_at=now,
            queued_at=now,
            status=(MailStatus.SKIPPED if reason else MailStatus.PENDING).value,
            last_error=reason,
        )
        .returning(OutboxMail.id)
    )


def _message(session, row: OutboxMail, settings: Settings) -> OutgoingBatch | ForgetBounce | None:
    if row.kind == MailKind.FORGET_BOUNCE:
        sub = service.get(session, row.subscriber_id)
        return ForgetBounce(sub.email) if sub is not None else None  # erased since: no address
    if row.kind == MailKind.WELCOME:
        welcome = welcome_message(session, row.subscriber_id, row.id, settings, utcnow())
        # written with a request to forget the bounce, it may go before SendGrid has: past the list, as
        # its confirmation did (dropped there, it would suppress the reader again)
        if welcome is not None and forgetting_bounce(session, row.subscriber_id):
            welcome = dataclasses.replace(welcome, bypass_bounces=True)
        return welcome
    if row.kind == MailKind.REENGAGE:
        return reengage_message(session, row.subscriber_id, row.id, settings)
    return confirmation_message(session, row.subscriber_id, row.lang, row.id, settings)


def _claim(session, mail_id: int, now: datetime, settings: Settings) -> bool:
    """Compare-and-set: pending (or a claim whose worker went silent) -> sending, for one worker only."""
    return (
        session.execute(
            update(OutboxMail)
            .where(
                OutboxMail.id == mail_id,
                or_(
                    OutboxMail.status == MailStatus.PENDING,
                    and_(OutboxMail.status == MailStatus.SENDING, OutboxMail.claimed_until < now),
                ),
            )
            .values(
                status=MailStatus.SENDING.value,
                attempts=OutboxMail.attempts + 1,
                claimed_until=now + timedelta(seconds=settings.batch_lease_seconds),
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )


def _close(
    rt: Runtime, mail_id: int, status: MailStatus, error: str | None = None, **values
) -> None:
    with rt.session() as session:
        session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == mail_id, OutboxMail.status == MailStatus.SENDING)
            .values(status=status.value, claimed_until=None, last_error=error, **values)
            .execution_options(synchronize_session=False)
        )


def run_send_mail(rt: Runtime, mail_id: int) -> str:
    """Send one outbox row. The row's id names the message (a rewrite of the same outbox file), and its claim,
    committed before the request, makes a second run of the task (a retry, a sweep's copy) send nothing.
    A transient failure is tried again later, up to MAX_RETRIES times (the row counts the attempts)."""
    settings = rt.settings
    with rt.session() as session:
        if not _claim(session, mail_id, utcnow(), settings):
            return "done"  # sent, skipped or failed already, or held by another worker
        session.commit()
        row = session.get_one(OutboxMail, mail_id)  # claimed just now
        tries = row.attempts
        if tries > MAX_RETRIES + 1:  # a mail whose workers keep dying is not tried for ever
            message = None
        else:
            message = _message(session, row, settings)
            subscriber_id, kind = row.subscriber_id, row.kind
    if tries > MAX_RETRIES + 1:
        _close(rt, mail_id, MailStatus.FAILED, f"gave up after {tries - 1} attempts")
        return "failed"
    if message is None:
        _close(rt, mail_id, MailStatus.SKIPPED, "nothing to send (suppressed or gone)")
        return "skipped"
    try:
        if isinstance(message, ForgetBounce):
            rt.sender.forget_bounce(message.email)
        else:
            rt.sender.send(message)
    except SendError as exc:
        retries = tries - 1
        # a lost answer to a DELETE is retried too: it is done once, however often it is asked
        again = exc.transient or (isinstance(message, ForgetBounce) and exc.kind == exc.UNKNOWN)
        if again and retries < MAX_RETRIES:
            # unclaimed: the retry claims it
            _close(rt, mail_id, MailStatus.PENDING, str(exc), queued_at=utcnow())
            rt.tasks.send_mails([mail_id], countdown=exc.retry_after or backoff(retries))
            return "retrying"
        # The subscriber id, never the address or the link: the link is as good as a password.
        log.error("%s mail %s for subscriber %s failed: %s", kind, mail_id, subscriber_id, exc)
        _close(rt, mail_id, MailStatus.FAILED, str(exc))
        return "failed"
    _close(rt, mail_id, MailStatus.SENT, sent_at=utcnow())
    return "sent"


@app.task(name=SEND_MAIL, queue="mail", bind=True, acks_late=True)
def send_mail(self, mail_id: int) -> str:
    try:
        return run_send_mail(runtime_of(self.app), mail_id)
    except DBAPIError as exc:
        if not connection_lost(exc):
            raise
        # A claim not committed leaves the row pending, and the retry sends it; one committed is
        # taken up by the sweep once it lapses (the retry finds it held).
        raise self.retry(
            countdown=store_retry_in(self.request.retries), max_retries=STORE_RETRIES, exc=exc
        ) from exc


def unqueue(session, mail_ids: list[int]) -> None:
    """Mails the broker never got: queued by the very next sweep, not a lease later."""
    session.execute(
        update(OutboxMail)
        .where(OutboxMail.id.in_(mail_ids))
        .values(queued_at=None)
        .execution_options(synchronize_session=False)
    )


def due(session, now: datetime, settings: Settings) -> list[int]:
    """For beat's sweep: mails never queued (the broker was down), queued a lease ago and still unsent, or
    claimed by a worker that went silent. Marked queued now and committed; the caller dispatches them."""
    stale = now - timedelta(seconds=settings.batch_lease_seconds)
    ids = list(
        session.scalars(
            select(OutboxMail.id)
            .where(
                or_(
                    and_(
                        OutboxMail.status == MailStatus.PENDING,
                        or_(OutboxMail.queued_at.is_(None), OutboxMail.queued_at < stale),
                    ),
                    and_(OutboxMail.status == MailStatus.SENDING, OutboxMail.claimed_until < now),
                )
            )
            .order_by(OutboxMail.id)
            .limit(SWEEP_MAX)
        )
    )
    if ids:
        session.execute(
            update(OutboxMail)
            .where(OutboxMail.id.in_(ids))
            .values(queued_at=now)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return ids
