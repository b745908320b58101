"""The "still want this?" mail: once, to a reader who has not opened or clicked MAILER_SUNSET_ISSUES
issues in a row (subscribers.sunset), in their edition's language, with one button.

The button's link is signed and opens a page whose GET shows one button and whose POST says yes
(mailer.web.stay), so a mail scanner fetching it keeps nobody. Its outbox row is written in the rule's
own transaction (mailer.events.sunset_task), as the welcome mail's is written with the confirmation.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from mailer import langs
from mailer.config import Settings
from mailer.mail.message import OutgoingBatch
from mailer.mail.welcome import to_subscribed_reader
from mailer.rendering.render import render_email
from subscribers import service, sunset, tokens
from subscribers.models import Status

REENGAGE_EMAIL = "reengage"  # templates/email/<lang>/reengage/


def reengage_context(subscriber_id: int, lang: str, settings: Settings) -> dict:
    return {
        "lang": lang,
        "html_lang": langs.html_lang(lang),
        **langs.brands(settings.from_name_ko, settings.from_name_en, lang),
        "forms": {"brand": {langs.KO: settings.from_name_ko, langs.EN: settings.from_name_en}},
        "postal_lines": langs.marked(settings.postal_lines),  # CAN-SPAM
        "issues": settings.sunset_issues,
        "answer_days": sunset.ANSWER_DAYS,
        "stay_url": tokens.link(tokens.STAY, subscriber_id, settings),
        "preferences_url": tokens.link(tokens.PREFERENCES, subscriber_id, settings),
        "unsubscribe_url": tokens.link(tokens.UNSUBSCRIBE, subscriber_id, settings),
    }


def reengage_message(
    session: Session, subscriber_id: int, number: int, settings: Settings
) -> OutgoingBatch | None:
    """The mail to send now, in the edition the reader gets now; None when the question no longer
    stands (they read an issue or answered since it was written, left, or were suppressed or erased)."""
    sub = service.get(session, subscriber_id)
    if sub is None or sub.status != Status.ACTIVE or sub.asked_at is None:
        return None
    lang = sub.lang
    rendered = render_email(REENGAGE_EMAIL, lang, reengage_context(subscriber_id, lang, settings))
    return to_subscribed_reader(settings, sub, rendered, REENGAGE_EMAIL, number)
