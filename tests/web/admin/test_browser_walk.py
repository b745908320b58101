"""Chromium walks every desk page in Korean and English at 1366 and 390 px: no page
scrolls sideways, no Korean page shows an English word outside content, the subscriber filters and paging
work, and "send now" and "cancel" stop at a step that names the recipients. Screenshots of every page go to
docs/screenshots/desk-<page>-<lang>-<width>.png (and -dark.png at desktop width)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from mailer.db import utcnow

from .test_browser import browser, log_in, schedule_from_the_desk, serving  # noqa: F401  (browser: the Chromium fixture)

# The README's pictures are taken again only when asked (MAILER_SCREENSHOTS=docs/screenshots); a plain run
# keeps its screenshots in test-artifacts/ and leaves the checkout as it was.
SHOTS = Path(__file__).resolve().parents[3] / (
    os.environ.get("MAILER_SCREENSHOTS") or "test-artifacts"
)
WIDTHS = (1366, 390)
pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Text the desk shows in Korean pages outside content. Content is what the newsroom or a reader wrote (titles,
# subjects, addresses, names): it is marked lang="en" (an English title) or translate="no" (an address, a
# name, a zone), and skipped. What is left must hold no Latin word but these.
ENGLISH_WORDS_JS = r"""
() => {
  const allowed = new Set(["CSV", "UTF", "UTC", "IP", "QR", "px", "KiB", "MiB", "GiB", "SendGrid"]);  // abbreviations, units, a product
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest("script, style, [translate=no], svg title")) continue;
    const tagged = el.closest("[lang]");
    if (tagged && !tagged.lang.startsWith("ko")) continue;
    if (!el.getClientRects().length && !el.closest("option")) continue;  // not shown
    let text = node.textContent
      .replace(/[\w.+-]+@[\w.-]+/g, " ")                  // an address
      .replace(/https?:\/\/\S+/g, " ")                     // a link
      .replace(/\b[A-Z][A-Za-z_]+\/[A-Za-z_\/+-]+/g, " ");  // a zone (Asia/Seoul)
    for (const word of text.match(/[A-Za-z]{2,}/g) || []) {
      if (!allowed.has(word)) found.push(word + " <" + el.tagName.toLowerCase() + "> " + node.textContent.trim().slice(0, 60));
    }
  }
  return found;
}
"""

WIDEST_JS = """() => [...document.querySelectorAll('main *, header *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.scroll'))
  .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + Math.round(e.getBoundingClientRect().right))
  .slice(0, 5)"""


@pytest.fixture
def desk(session, ingested, editor, settings, subscribers_by_lang):
    """`mailer serve` on the test database: issue #1 drafted, 60 more subscribers (two pages), one bounce."""
    from mailer.issues.service import draft_issue
    from subscribers import service

    for i in range(60):
        service.add(
            session, f"reader{i:02}@example.com", ("ko", "en", "both")[i % 3], confirmed=True
        )
    gone, _ = service.add(session, "bounced@example.com", "ko", confirmed=True)
    service.mark_suppressed(session, gone.id, "bounced")
    draft_issue(session, utcnow(), settings)
    session.commit()
    with serving({"MAILER_OUTBOX_DIR": settings.outbox_dir}) as base:
        yield base, gone.id


def _check(page, name: str, lang: str, width: int, problems: list[str]) -> None:
    page.wait_for_load_state("networkidle")
    if not page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"):
        wide = page.evaluate(WIDEST_JS)
        problems.append(f"{name} {lang} {width}: scrolls sideways, past the edge: {wide}")
    if lang == "ko":
        problems.extend(f"{name} ko {width}: English: {w}" for w in page.evaluate(ENGLISH_WORDS_JS))
    page.screenshot(path=str(SHOTS / f"desk-{name}-{lang}-{width}.png"), full_page=True)
    if width == WIDTHS[0]:  # and in dark mode (prefers-color-scheme), at desktop width
        page.emulate_media(color_scheme="dark")
        page.screenshot(path=str(SHOTS / f"desk-{name}-{lang}-{width}-dark.png"), full_page=True)
        page.emulate_media(color_scheme="light")


def _walk(page, base: str, pages: dict[str, str], problems: list[str]) -> None:
    for lang in ("ko", "en"):
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for name, url in pages.items():
                sep = "&" if "?" in url else "?"
                switch = (
                    "ui"
                    if url.startswith(("/admin/subscribers?", "/admin/mails/"))
                    or url == "/admin/subscribers"
                    else "lang"
                )
                page.goto(f"{base}{url}{sep}{switch}={lang}")
                _check(page, name, lang, width, problems)


def test_every_desk_page_in_both_languages_at_desktop_and_phone_width(desk, browser):  # noqa: F811
    base, bounced_id = desk
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    page = browser.new_page(
        viewport={"width": 1366, "height": 900}, timezone_id="Asia/Seoul"
    )  # the reader's zone
    for lang in ("ko", "en"):  # the login page, before logging in
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{base}/admin/login?lang={lang}")
            _check(page, "login", lang, width, problems)
    log_in(page, base)

    # filters and paging: 72 subscribers are two pages; the status and language filters narrow them
    page.goto(f"{base}/admin/subscribers?ui=en")
    assert "72 in all" in page.inner_text("#total") and page.locator("tr.subscriber").count() == 50
    page.click("a[rel=next]")
    assert page.locator("tr.subscriber").count() == 22 and "page 2 of 2" in page.inner_text(
        "#total"
    )
    page.select_option("select[name=status]", "suppressed")
    page.click("form.filters button[type=submit]")
    assert "1 in all" in page.inner_text("#total") and "bounced@example.com" in page.inner_text(
        "table"
    )
    page.select_option("select[name=status]", "active")
    page.select_option("select[name=lang]", "both")
    page.click("form.filters button[type=submit]")
    assert "22 in all" in page.inner_text("#total")  # 2 + 20 bilingual readers

    _walk(
        page,
        base,
        {
            "dashboard": "/admin",
            "issue": "/admin/issues/1",
            "subscribers": "/admin/subscribers",
            "suppressions": "/admin/subscribers?status=suppressed",
            "subscriber": f"/admin/subscribers/{bounced_id}",
            "editors": "/admin/editors",
            "reports": "/admin/reports",
            "bounces": "/admin/issues/1/bounces",
            "reengage-mail": "/admin/mails/reengage",
            "two-factor": "/admin/two-factor",
            "feeds": "/admin/feeds",
            "signup-form": "/admin/signup-form",
        },
        problems,
    )

    # confirmation steps, each screenshotted: a subscriber's erase, then cancel and send naming the recipients
    for lang in ("ko", "en"):
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{base}/admin/subscribers/{bounced_id}?lang={lang}")
            page.click("#subscriber-actions input[value=erase] ~ button")
            assert page.locator("#confirm-question").count() == 1
            _check(page, "subscriber-confirm", lang, width, problems)
            page.goto(f"{base}/admin/issues/1?lang={lang}")
            page.click("#issue-actions input[value=send] ~ button")
            question = page.inner_text("#confirm-question")
            assert ("69명에게" if lang == "ko" else "69 people") in question, question
            _check(page, "send-confirm", lang, width, problems)

    page.goto(f"{base}/admin/issues/1?lang=ko")
    schedule_from_the_desk(page, "all", "2099-01-05", "07:00", "America/New_York")
    assert "2099-01-05 07:00 (뉴욕 시간) · 2099-01-05 21:00 (서울 시간)" in page.inner_text(
        "#schedule"
    )  # the zone it was chosen in, and the desk's
    assert (
        page.inner_text(".send-at[data-lang=ko] .local-time")
        == " (내 시각: 2099-01-05 21:00 Asia/Seoul)"
    )
    page.click("#issue-actions input[value=cancel] ~ button")
    assert re.search(r"69명은", page.inner_text("#confirm-question"))
    _check(page, "cancel-confirm", "ko", 1366, problems)
    page.click("text=돌아가기")
    page.click("#issue-actions input[value=send] ~ button")
    page.click("#confirm-question ~ form button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/issues/1\?n=send_started"))
    assert page.inner_text("#issue-status") == "발송 완료"

    _walk(
        page,
        base,
        {
            "issue-sent": "/admin/issues/1",
            "report": "/admin/issues/1/report",
            "dashboard-sent": "/admin",
            "reports-sent": "/admin/reports",
        },
        problems,
    )
    assert not problems, "\n".join(sorted(set(problems)))
