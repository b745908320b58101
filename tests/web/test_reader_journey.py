"""The reader's whole journey in Chromium, in Korean and English, at 390 and 1366 px: the home page, the
sign-up, the confirmation mail's link and button, the welcome mail, an issue whose footer switches the
edition in one click, the preference centre in the page's language (whatever the edition), the web
edition's own footer, the archive and its Atom feed, unsubscribing and subscribing again.

Every page must be in the language the reader chose on the site, fit the width and break Korean lines
only between words. Screenshots go to test-artifacts/, or to docs/screenshots/ when asked
(MAILER_SCREENSHOTS=docs/screenshots), as reader-journey-<step>-<lang>-<width>.png.
"""

from __future__ import annotations

import html
import os
import re
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from .admin.test_browser import SPLIT_WORDS_JS, browser, serving  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parents[2] / (
    os.environ.get("MAILER_SCREENSHOTS") or "test-artifacts"
)
LOOKS = [("ko", 390), ("ko", 1366), ("en", 390), ("en", 1366)]
# What each page says, per page language: the page must be in the reader's language all the way.
SAYS = {
    "ko": {
        "inbox": "메일함을 확인해 주세요",
        "confirmed": "구독이 확인되었습니다",
        "unsubscribed": "구독이 취소되었습니다",
    },
    "en": {
        "inbox": "Check your inbox",
        "confirmed": "Your subscription is confirmed",
        "unsubscribed": "You are unsubscribed",
    },
}


def _mails(root: Path, folder: str, to: str) -> list:
    found = []
    for path in sorted((root / folder).rglob("*.eml")):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        if message["To"] == to:
            found.append(message)
    return found


def _mail(root: Path, folder: str, to: str, wait: float = 20.0):
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        found = _mails(root, folder, to)
        if found:
            return found[-1]
        time.sleep(0.2)
    raise AssertionError(f"no {folder} mail to {to} in {root}")


def _link(message, base: str, purpose: str) -> str:
    body = html.unescape(message.get_body(("html",)).get_content())
    found = re.search(rf'href="({re.escape(base)}/{purpose}/[^"]+)"', body)
    assert found, f"no /{purpose}/ link in {message['Subject']!r}"
    return found.group(1)


class Walk:
    """One reader in one browser context: each step checked and photographed."""

    def __init__(self, browser, base: str, lang: str, width: int):  # noqa: F811
        self.base, self.lang, self.width = base, lang, width
        self.context = browser.new_context(viewport={"width": width, "height": 900}, locale=lang)
        self.page = self.context.new_page()
        self.email = f"journey-{lang}-{width}@example.com"

    def check(self, step: str, *, public: bool = True) -> None:
        page = self.page
        page.wait_for_load_state("load")
        if public:
            assert page.evaluate("document.documentElement.lang") == self.lang, step
            assert page.locator("a.brand").count() == 1, step
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= self.width + 1, f"{step} {self.lang} {self.width}: {overflow}px wide"
        assert page.evaluate(SPLIT_WORDS_JS, None)["bad"] == [], step
        page.screenshot(
            path=str(SHOTS / f"reader-journey-{step}-{self.lang}-{self.width}.png"),
            full_page=True,
        )

    def says(self, key: str) -> None:
        assert SAYS[self.lang][key] in self.page.inner_text("main"), key

    def mail(self, message, step: str) -> None:
        """A mail as the reader's mail app shows it, at the walk's width."""
        self.page.set_content(message.get_body(("html",)).get_content())
        self.check(step, public=False)


@pytest.fixture
def journey(session, issue, settings, make_runtime):
    with serving({"MAILER_OUTBOX_DIR": settings.outbox_dir}) as base:
        yield base, make_runtime(public_url=base)


def test_the_readers_journey_in_both_languages_and_widths(journey, browser, settings, issue):  # noqa: F811
    from mailer.delivery.facade import send_now

    base, runtime = journey
    outbox = Path(settings.outbox_dir)
    SHOTS.mkdir(exist_ok=True)
    walks = [Walk(browser, base, lang, width) for lang, width in LOOKS]

    # found, signed up, confirmed, welcomed
    for walk in walks:
        page = walk.page
        page.goto(f"{base}/?lang={walk.lang}")
        walk.check("home")
        page.fill("#email", walk.email)
        page.check(f"input[name=lang][value={walk.lang}]")
        page.click("form[action^='/subscribe'] button[type=submit]")
        page.wait_for_selector("form button.quiet")
        walk.says("inbox")
        walk.check("inbox")
        confirm = _link(_mail(outbox, "confirm", walk.email), base, "confirm")
        page.goto(confirm)
        walk.check("confirm")
        page.click("form[action^='/confirm/'] button[type=submit]")
        page.wait_for_load_state("load")
        walk.says("confirmed")
        walk.check("confirmed")
        walk.mail(_mail(outbox, "welcome", walk.email), "welcome-mail")

    # an issue goes out to them all
    send_now(runtime, issue.number)
    for walk in walks:
        page = walk.page
        digest = _mail(outbox, f"issue-{issue.number}", walk.email)
        walk.mail(digest, "issue-mail")
        # the footer's edition switch: a GET shows one button, the POST switches
        page.goto(_link(digest, base, "edition"))
        walk.check("edition-switch")
        before = page.url
        page.click("form[action^='/edition/'] button[type=submit]")
        page.wait_for_load_state("load")
        assert page.url == before and page.locator("form[action^='/edition/']").count() == 0
        walk.check("edition-switched")
        # the preference centre speaks the page's language, not the edition's
        page.goto(_link(digest, base, "preferences"))
        assert walk.email in page.inner_text("main")
        assert page.locator("input[name=lang]:checked").get_attribute("value") != walk.lang
        walk.check("preferences")
        # the web edition has a footer of its own: sign up, the archive, the other languages
        page.goto(f"{base}/archive/{issue.number}/{walk.lang}")
        copy = page.content()
        assert f'href="{base}/subscribe?lang=' in copy and f'href="{base}/archive?lang=' in copy
        assert f'href="{base}/archive/{issue.number}/' in copy  # its other languages
        assert "/unsubscribe/" not in copy and "/preferences/" not in copy
        walk.check("web-edition", public=False)
        page.goto(f"{base}/archive")
        walk.check("archive")
        feed = page.request.get(f"{base}/archive/{walk.lang}.atom")
        assert feed.status == 200 and "atom" in feed.headers["content-type"]
        assert "<feed" in feed.text() and f"/archive/{issue.number}/{walk.lang}" in feed.text()
        # unsubscribe from the mail's link, then come back from the preference centre
        page.goto(_link(digest, base, "unsubscribe"))
        walk.check("unsubscribe")
        page.click("form[action^='/unsubscribe/'] button[type=submit]")
        page.wait_for_load_state("load")
        walk.says("unsubscribed")
        walk.check("unsubscribed")
        page.click("main a[href^='/preferences/']")
        page.wait_for_load_state("load")
        page.click("form:has(input[name=action][value=resubscribe]) button[type=submit]")
        page.wait_for_selector(".notice")
        walk.check("resubscribed")
        walk.context.close()
