"""The welcome mail: sent once, when a reader first confirms, in their edition's language.

It says what they signed up for, when the next issue comes (in its zone), links the latest issue in
the archive, and gives the ways to change language or leave. Its outbox row is written in the
confirmation's own transaction (mailer.mail.transactional.record), so an outage cannot lose it.
"""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_date, format_time, get_timezone_name
from sqlalchemy.orm import Session

from mailer import langs
from mailer.config import Settings
from mailer.issues.archive import public_issues
from mailer.issues.next_issue import next_issue
from mailer.mail.message import OutgoingBatch, to_one_reader
from mailer.rendering.render import Rendered, render_email
from subscribers import service, tokens
from subscribers.models import Status, Subscriber

WELCOME_EMAIL = "welcome"  # templates/email/<lang>/welcome/


def say_when(when: datetime, lang: str) -> str:
    """The full date, the time and its zone's name, as the reader's pages say it."""
    return " ".join(
        (
            format_date(when, "full", locale=lang),
            format_time(when, "short", locale=lang),
            get_timezone_name(when, "long", locale=lang),
        )
    )


def latest_issue_url(session: Session, lang: str, settings: Settings) -> str:
    """The newest public issue in the reader's edition (else its first edition); "" before any."""
    found = public_issues(session, latest=True)
    if not found:
        return ""
    issue, editions = found[0]
    chosen = next((e for e in editions if e.lang == lang), editions[0])
    return f"{settings.public_base}/archive/{issue.number}/{chosen.lang}"


def welcome_context(
    session: Session, subscriber_id: int, lang: str, settings: Settings, now: datetime
) -> dict:
    when, _zone = next_issue(session, settings, lang, now)
    return {
        "lang": lang,
        "html_lang": langs.html_lang(lang),
        **langs.brands(settings.from_name_ko, settings.from_name_en, lang),
        "forms": {"brand": {langs.KO: settings.from_name_ko, langs.EN: settings.from_name_en}},
        "postal_lines": langs.marked(settings.postal_lines),  # CAN-SPAM
        "next_issue_ko": say_when(when, langs.KO),
        "next_issue_en": say_when(when, langs.EN),
        "latest_url": latest_issue_url(session, lang, settings),
        "preferences_url": tokens.link(tokens.PREFERENCES, subscriber_id, settings),
        "unsubscribe_url": tokens.link(tokens.UNSUBSCRIBE, subscriber_id, settings),
    }


def welcome_message(
    session: Session, subscriber_id: int, number: int, settings: Settings, now: datetime
) -> OutgoingBatch | None:
    """The welcome mail to send now, in the edition the reader gets now (they may have changed it
    since confirming); None when they are no longer subscribed (left, suppressed or erased since):
    a welcome to someone who is not mailed would be a lie."""
    sub = service.get(session, subscriber_id)
    if sub is None or sub.status != Status.ACTIVE:
        return None
    lang = sub.lang
    rendered = render_email(
        WELCOME_EMAIL, lang, welcome_context(session, subscriber_id, lang, settings, now)
    )
    return to_subscribed_reader(settings, sub, rendered, WELCOME_EMAIL, number)


def to_subscribed_reader(
    settings: Settings, sub: Subscriber, rendered: Rendered, kind: str, number: int
) -> OutgoingBatch:
    """A mail to a reader on the list (the welcome, the sunset's question), in their edition, with the
    digest's one-click unsubscribe (RFC 8058: the POST goes to the reader's own link)."""
    unsubscribe = tokens.link(tokens.UNSUBSCRIBE, sub.id, settings)
    return to_one_reader(
        settings,
        sub.lang,
        rendered,
        kind=kind,
        folder=kind,
        number=number,
        email=sub.email,
        subscriber_id=sub.id,
        reader_headers={"List-Unsubscribe": f"<{unsubscribe}>"},
        headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
