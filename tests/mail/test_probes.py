"""The probe that reconciliation sends to see the webhook stream pass a lost answer."""

from mailer.mail.probes import probe
from mailer.mail.sendgrid import build_payload
from mailer.standin import validate

PROBE = "probe@news.example.com"


def test_the_probe_is_one_small_message_naming_its_batch_and_valid_for_sendgrid(settings):
    message = probe(settings.model_copy(update={"probe_email": PROBE}), 42)
    [rcpt] = message.recipients
    assert rcpt.email == PROBE and rcpt.custom_args == {"probe": "42"} and "42" in message.subject
    assert message.batch_id is None and message.categories == ("probe",)
    assert message.from_email == settings.from_email
    assert validate(build_payload(message)) == []
