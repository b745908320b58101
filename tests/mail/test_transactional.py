"""The confirmation mail carries the sender's postal address too (CAN-SPAM)."""

import pytest

from mailer.mail import transactional
from mailer.rendering.render import render_email
from subscribers import service

LINES = ["서울특별시 중구 세종대로 110", "110 Sejong-daero, Jung-gu, Seoul 04524"]


@pytest.mark.parametrize("lang", ["ko", "en", "both"])
@pytest.mark.parametrize("kind", [service.CONFIRM_MAIL, service.ALREADY_MAIL])
def test_the_confirmation_mail_shows_the_postal_address_in_html_and_text(
    settings, monkeypatch, lang, kind
):
    monkeypatch.setattr(settings, "postal_address", "\n".join(LINES))
    rendered = render_email(
        "confirm", lang, transactional.confirmation_context(5, kind, lang, settings)
    )
    footer = rendered.html.rsplit('class="muted"', 1)[1]
    assert (
        '<span lang="ko" style="font-family:' in footer
        and '<span lang="en" style="font-family:' in footer
    )
    for line in LINES:
        assert line in footer and line in rendered.text
    assert rendered.text.rstrip().endswith(LINES[-1])
