"""The welcome mail as rendered: each edition fit for mail clients, its links the reader's own."""

from __future__ import annotations

import re

import pytest

from mailer.db import utcnow
from mailer.mail.welcome import WELCOME_EMAIL, welcome_context
from mailer.rendering.render import render_email
from subscribers import tokens


@pytest.mark.parametrize("lang", ["ko", "en", "both"])
def test_each_edition_renders_fit_for_mail_clients(settings, session, lang):
    rendered = render_email(
        WELCOME_EMAIL, lang, welcome_context(session, 5, lang, settings, utcnow())
    )
    html, text = rendered.html, rendered.text
    assert re.search(rf'<html lang="{"en" if lang == "en" else "ko"}"', html)
    assert "word-break:keep-all" in html and 'name="color-scheme"' in html
    assert "<script" not in html and len(html.encode()) < 30 * 1024
    for purpose in (tokens.PREFERENCES, tokens.UNSUBSCRIBE):
        url = re.search(rf'href="(https://news\.example\.com/{purpose}/[^"]+)"', html).group(1)
        assert (
            url in text and tokens.read(purpose, url.rsplit("/", 1)[1], settings).subscriber_id == 5
        )
    assert "{{" not in html + text and "\n" not in rendered.subject
