"""The reader's pages in a real browser (Debian's Chromium through Playwright): home, archive, "check
your inbox" and preferences, in Korean and English, at phone and desktop width, light and dark.

Each must fit the width (no sideways scrolling), carry the language switch and the publication's name,
and break Korean lines only between words. Screenshots go to test-artifacts/reader-*.png.
"""

from __future__ import annotations

import pytest

from subscribers import service, tokens

from .admin.test_browser import ARTIFACTS, SPLIT_WORDS_JS, browser, serving  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# (page language, width, colour scheme): each page at both widths and both schemes, 16 shots in all
LOOKS = [("ko", 390, "light"), ("ko", 1366, "dark"), ("en", 390, "dark"), ("en", 1366, "light")]


@pytest.fixture
def site(session, drafted, runtime, settings):
    from mailer.delivery.facade import send_now

    send_now(runtime, 1)
    sub, _ = service.add(session, "reader@example.com", "en", confirmed=True)
    session.commit()
    token = tokens.make_token(tokens.PREFERENCES, sub.id, settings)
    with serving() as base:
        yield base, f"/preferences/{token}"


def _check(page, lang: str, width: int, name: str) -> None:
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} overflows"
    assert page.locator("a.switch").count() == 1 and page.locator("a.brand").count() == 1
    assert page.evaluate(SPLIT_WORDS_JS, None)["bad"] == []


def test_the_readers_pages_in_both_languages_widths_and_schemes(site, browser):  # noqa: F811
    base, preferences = site
    ARTIFACTS.mkdir(exist_ok=True)
    for lang, width, scheme in LOOKS:
        context = browser.new_context(
            viewport={"width": width, "height": 900}, color_scheme=scheme, locale=lang
        )
        page = context.new_page()
        shots = {
            "home": "/",
            "archive": "/archive",
            "preferences": preferences,
        }
        for name, path in shots.items():
            page.goto(f"{base}{path}?lang={lang}")
            _check(page, lang, width, name)
            page.screenshot(path=str(ARTIFACTS / f"reader-{name}-{lang}-{width}-{scheme}.png"))
        # the check-inbox page, as the form on the home page answers it
        page.goto(f"{base}/")
        page.fill("#email", f"new-{lang}-{width}@example.com")
        page.click("form[action^='/subscribe'] button[type=submit]")
        page.wait_for_selector("form button.quiet")
        _check(page, lang, width, "check-inbox")
        assert "@example.com" in page.inner_text("main")
        page.screenshot(path=str(ARTIFACTS / f"reader-inbox-{lang}-{width}-{scheme}.png"))
        context.close()
