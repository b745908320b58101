"""The confirmation email: rendered once per request in the chosen language, fit for mail clients,
and sent through every backend (SendGrid checked by the stand-in's validation)."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser

import pytest

from mailer.mail import transactional
from mailer.mail.message import to_mime
from mailer.rendering.render import render_email
from subscribers import service, tokens
from subscribers.models import Status

LANGS = ("ko", "en", "both")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", [service.CONFIRM_MAIL, service.ALREADY_MAIL])
def test_each_language_and_kind_renders_fit_for_mail_clients(settings, lang, kind):
    rendered = render_email(
        "confirm", lang, transactional.confirmation_context(5, kind, lang, settings)
    )
    html, text = rendered.html, rendered.text
    assert re.search(rf'<html lang="{"en" if lang == "en" else "ko"}"', html)
    assert (
        "word-break:keep-all" in html
        and "Apple SD Gothic Neo" in html
        and 'name="color-scheme"' in html
    )
    assert "<script" not in html and "googleapis" not in html and len(html.encode()) < 30 * 1024
    url = re.search(r'href="(https://news\.example\.com/(confirm|preferences)/[^"]+)"', html).group(
        1
    )
    assert url in text  # the text part carries the same link
    purpose = tokens.CONFIRM if kind == service.CONFIRM_MAIL else tokens.PREFERENCES
    claim = tokens.read(purpose, url.rsplit("/", 1)[1], settings)
    assert claim.subscriber_id == 5 and claim.lang == (
        lang if kind == service.CONFIRM_MAIL else None
    )
    assert "%unsubscribe_url%" not in html  # no placeholders: one recipient, filled at render time


def test_subjects_survive_a_mime_round_trip(settings, session):
    for lang in LANGS:
        for kind in (service.CONFIRM_MAIL, service.ALREADY_MAIL):
            sub, _ = service.add(
                session, f"{lang}-{kind}@example.com", lang, confirmed=kind == service.ALREADY_MAIL
            )
            message = transactional.confirmation_message(session, sub.id, lang, 1, settings)
            parsed = BytesParser(policy=policy.default).parsebytes(
                to_mime(message, message.recipients[0])
            )
            assert parsed["Subject"] == message.subject and parsed["To"] == sub.email
            assert parsed["From"].addresses[0].display_name == settings.from_name(lang)


def test_no_mail_for_a_suppressed_or_missing_subscriber(settings, session):
    sub, _ = service.add(session, "x@example.com", "ko", confirmed=True)
    service.mark_suppressed(session, sub.id, Status.COMPLAINED)
    assert transactional.confirmation_message(session, sub.id, "ko", 1, settings) is None
    assert transactional.confirmation_message(session, 424242, "ko", 1, settings) is None


def _record(session, sub, lang) -> int:
    mail_id = transactional.record(session, sub.id, lang)
    session.commit()
    return mail_id


def test_in_process_it_is_filed_in_the_outbox_under_confirm(settings, session, runtime):
    from pathlib import Path

    sub, _ = service.add(session, "filed@example.com", "en")
    mail_id = _record(session, sub, "en")
    assert runtime.tasks.send_mails([mail_id]) == "sent"
    [path] = list(Path(settings.outbox_dir).rglob("*.eml"))
    assert (
        path.relative_to(settings.outbox_dir).as_posix() == f"confirm/en/{mail_id}.eml"
    )  # named by its row
    assert transactional.run_send_mail(runtime, mail_id) == "done"  # a second run sends nothing
    assert len(list(Path(settings.outbox_dir).rglob("*.eml"))) == 1


def test_sendgrid_accepts_it(settings, session, make_runtime):
    from pydantic import SecretStr

    from mailer.standin import StandIn

    sub, _ = service.add(session, "sg@example.com", "ko")
    with StandIn(api_key="SG.test", keep_payloads=True) as standin:
        runtime = make_runtime(
            mail_backend="sendgrid",
            sendgrid_api_key=SecretStr("SG.test"),
            sendgrid_host=standin.url,
        )
        assert runtime.tasks.send_mails([_record(session, sub, "ko")]) == "sent"
        [record] = standin.accepted()
    payload = record["payload"]
    assert payload["personalizations"][0]["to"] == [{"email": "sg@example.com"}]
    assert payload["categories"] == ["confirm", "lang-ko"]
    assert "/confirm/" in payload["content"][1]["value"]


def test_a_failed_send_is_reported_without_the_link(settings, session, make_runtime, caplog):
    from mailer.mail.senders import SendError

    class Broken:
        name = "broken"

        def send(self, batch):
            raise SendError("SendGrid answered 400: bad request", kind=SendError.PERMANENT)

    runtime = make_runtime(sender=Broken())
    sub, _ = service.add(session, "fail@example.com", "ko")
    assert runtime.tasks.send_mails([_record(session, sub, "ko")]) == "failed"
    assert "fail@example.com" not in caplog.text and "/confirm/" not in caplog.text
    assert f"subscriber {sub.id}" in caplog.text


def test_the_task_is_registered_on_its_own_queue():
    """A confirmation mail is not queued behind a digest's batches on `send`."""
    from mailer.celery_app import TASK_MODULES, create_app
    from mailer.config import Settings

    assert "mailer.mail.transactional" in TASK_MODULES
    app = create_app(Settings(_env_file=None, broker_url="redis://127.0.0.1:6379/0"))
    app.loader.import_default_modules()
    assert app.tasks["mailer.send_mail"].queue == "mail"
