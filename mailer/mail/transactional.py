"""Transactional mail: one message to one person (the sign-up confirmation), rendered once, sent now.

It goes through the configured Sender like the digest's batches. With a broker it is a task on the
`send` queue, enqueued after the sign-up has been committed; without one it runs in-process.
"""

from __future__ import annotations

import logging
import time

from mailer import langs
from mailer.celery_app import app
from mailer.config import Settings, get_settings
from mailer.db import session_scope
from mailer.mail.message import OutgoingBatch, Recipient
from mailer.mail.senders import SendError, backoff, get_sender
from mailer.rendering.render import render_email
from subscribers import service, tokens

log = logging.getLogger(__name__)
CONFIRM_EMAIL = "confirm"  # templates/email/<lang>/confirm/
MAX_RETRIES = 5


def confirmation_context(subscriber_id: int, kind: str, lang: str, settings: Settings) -> dict:
    return {
        "kind": kind,  # confirm: not subscribed yet; already: subscribed, so the preferences instead
        "lang": lang,
        "html_lang": langs.html_lang(lang),
        **langs.brands(settings.from_name_ko, settings.from_name_en, lang),
        "forms": {"brand": {langs.KO: settings.from_name_ko, langs.EN: settings.from_name_en}},
        "postal_lines": langs.marked(settings.postal_lines),  # CAN-SPAM
        "confirm_url": tokens.link(tokens.CONFIRM, subscriber_id, settings, lang=lang)
        if kind == service.CONFIRM_MAIL else "",
        "preferences_url": tokens.link(tokens.PREFERENCES, subscriber_id, settings),
        "expires_days": tokens.CONFIRM_MAX_AGE_DAYS,
    }


def confirmation_message(session, subscriber_id: int, lang: str, number: int,
                         settings: Settings) -> OutgoingBatch | None:
    """The mail a sign-up request sends, in the language chosen on the form; None when it sends none.

    What to say is decided now, from the subscriber as they are when the mail goes out.
    """
    sub = service.get(session, subscriber_id)
    kind = service.confirmation_kind(sub)
    if kind is None:
        return None
    rendered = render_email(CONFIRM_EMAIL, lang, confirmation_context(subscriber_id, kind, lang, settings))
    return OutgoingBatch.compose(
        settings, lang, subject=rendered.subject, html=rendered.html, text=rendered.text,
        recipients=[Recipient(delivery_id=number, email=sub.email, substitutions={}, headers={},
                              custom_args={"kind": kind, "subscriber_id": str(subscriber_id)})],
        categories=(CONFIRM_EMAIL, f"lang-{lang}"), folder=CONFIRM_EMAIL,
    )


@app.task(name="mailer.send_confirmation", queue="send", bind=True, acks_late=True, max_retries=MAX_RETRIES)
def send_confirmation(self, subscriber_id: int, lang: str, number: int) -> str:
    """`number` names the message: a retry of the task writes the same outbox file, not a second one."""
    settings = get_settings()
    with session_scope() as session:
        message = confirmation_message(session, subscriber_id, lang, number, settings)
    if message is None:
        return "skipped"
    try:
        get_sender(settings).send(message)
    except SendError as exc:
        if exc.transient and not self.request.is_eager and self.request.retries < MAX_RETRIES:
            raise self.retry(countdown=exc.retry_after or backoff(self.request.retries)) from exc
        # The subscriber id, never the address or the link: the link is as good as a password.
        log.error("confirmation mail for subscriber %s failed: %s", subscriber_id, exc)
        return "failed"
    return "sent"


def enqueue_confirmation(subscriber_id: int, lang: str) -> str:
    """Call only after the sign-up is committed. Returns sent/skipped/failed in-process, else queued."""
    number = time.time_ns() // 1000  # unique per request; the outbox names the file by it
    if get_settings().tasks_in_process:  # read at call time: the web app's settings may change under test
        return send_confirmation.apply(args=(subscriber_id, lang, number), throw=True).get()
    send_confirmation.delay(subscriber_id, lang, number)
    return "queued"
