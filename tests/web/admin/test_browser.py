"""The editor's desk in a real browser: Playwright driving Debian's Chromium against `mailer serve`.

Logs in, edits an issue, previews and schedules it; saves screenshots of the ko and en editions at
600 and 375 px into test-artifacts/; checks no line of Korean text breaks inside a word.
Playwright never downloads a browser here: it launches /usr/bin/chromium.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mailer.db import utcnow
from tests.broker import free_port

from .conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# For each text node with Hangul: find where each rendered line starts (per-character client rects)
# and report a line that starts between two letters or digits, i.e. inside a word.
SPLIT_WORDS_JS = r"""
(root) => {
  const scope = root ? document.querySelector(root) : document.body;
  const word = /[\p{L}\p{N}]/u;
  const bad = [];
  let lines = 0;
  const walker = document.createTreeWalker(scope, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const text = node.textContent;
    if (!/[\uAC00-\uD7A3]/.test(text)) continue;
    const range = document.createRange();
    let lastTop = null;
    for (let i = 0; i < text.length; i++) {
      if (/\s/.test(text[i])) continue;
      range.setStart(node, i); range.setEnd(node, i + 1);
      const rects = range.getClientRects();
      if (!rects.length) continue;
      const r = rects[0];
      if (lastTop !== null && r.top > lastTop + r.height / 2) {
        lines++;
        const prev = text[i - 1];
        if (word.test(prev) && word.test(text[i])) {
          bad.push(text.slice(Math.max(0, i - 12), i) + "|" + text.slice(i, i + 12));
        }
      }
      lastTop = r.top;
    }
  }
  return {bad, lines};
}
"""


@contextmanager
def serving(env: dict | None = None) -> Iterator[str]:
    """`mailer serve` on a free port until the block ends. Yields its base URL, which is also its public URL
    (http: the session cookie may not be Secure here)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailer.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, **(env or {}), "MAILER_PUBLIC_URL": base},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(
                    "mailer serve did not start: " + proc.stdout.read().decode(errors="replace")
                )
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def log_in(page, base: str) -> None:
    """Log the desk's editor (the `editor` fixture's) in; waits for the dashboard."""
    page.goto(f"{base}/admin/login")
    page.fill("#name", "mina")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin")


def schedule_from_the_desk(page, lang: str, date: str, at: str, zone: str) -> None:
    """Fill and send the issue page's schedule form; waits for the notice."""
    page.select_option("form[action$='/schedule'] select[name=lang]", lang)
    page.fill("input[name=date]", date)
    page.fill("input[name=time]", at)
    page.fill("input[name=timezone]", zone)
    page.click("form[action$='/schedule'] button[type=submit]")
    page.wait_for_selector(".notice")


@pytest.fixture
def server(session, ingested, subscribers_by_lang, editor, settings):
    from mailer.issues.service import draft_issue

    draft_issue(session, utcnow(), settings)
    session.commit()
    with serving() as base:
        yield base


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is absent: install Debian's chromium (apt-get install chromium) to run browser tests"
        )
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


def test_log_in_edit_preview_schedule_and_screenshot(server, browser, session):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server}/admin/issues/1?lang=ko")
    assert "/admin/login" in page.url  # anonymous: sent to log in, then back
    page.fill("#name", "mina")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/admin/issues/1?lang=ko")  # back where the editor was going
    assert "제1호" in page.inner_text("h1")

    # edit: a subject and a note in Korean, then pin the second story
    page.fill("#subject_ko", "이번 주 서울 레저 브리핑: 김장 물가와 새 지하철 노선")
    page.fill(
        "#note_ko",
        "이번 호에서는 김장철 물가와 교통 소식을 먼저 전해 드립니다. 주말 나들이 계획에 참고하세요.",
    )
    page.click("form[action$='/editions'] button[type=submit]")
    page.wait_for_selector(".notice")
    second = page.locator("tr.story").nth(1).get_attribute("data-article")
    page.locator(f"tr.story[data-article='{second}'] button[value=pin]").click()
    page.wait_for_selector(".story-notice")  # swapped in place, with its own notice
    assert page.locator("tr.story").first.get_attribute("data-article") == second

    # previews: a frame an edition, shown at 600 or 375 px
    frames = page.locator("iframe.mail-frame")
    assert frames.count() == 3
    assert page.locator("#panel-ko .view[data-width='375']").count() == 2  # phone, dark

    # schedule the Korean edition for 07:00 Seoul time
    schedule_from_the_desk(page, "ko", "2099-01-05", "07:00", "Asia/Seoul")
    assert page.inner_text("#issue-status") == "예약됨"
    assert "2099-01-05 07:00" in page.inner_text(".send-at[data-lang=ko]")

    # screenshots of each edition at desktop and phone width; Korean lines break only between words
    checked = 0
    for lang in ("ko", "en"):
        for width in (600, 375):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{server}/admin/issues/1/preview/{lang}")
            page.screenshot(path=str(ARTIFACTS / f"issue-1-{lang}-{width}.png"), full_page=True)
            result = page.evaluate(SPLIT_WORDS_JS, None)
            assert result["bad"] == [], (
                f"{lang} at {width}px: Korean split inside a word: {result['bad']}"
            )
            if lang == "ko":
                checked += result["lines"]
    assert checked > 10  # Korean text did wrap, so the check had lines to look at
    for name in ("ko-600", "ko-375", "en-600", "en-375"):
        assert (ARTIFACTS / f"issue-1-{name}.png").stat().st_size > 10_000


def test_the_line_check_catches_a_word_split(browser):
    """The check is not vacuous: Korean set with break-all (no keep-all) splits words, and it says so."""
    page = browser.new_page(viewport={"width": 375, "height": 600})
    page.set_content(
        '<p lang="ko" style="width:120px;word-break:break-all;font-size:16px">'
        "대한민국의 수도 서울특별시에서 열리는 국제 회의 소식을 전해 드립니다</p>"
    )
    assert page.evaluate(SPLIT_WORDS_JS, None)["bad"]
    page.set_content(
        '<p lang="ko" style="width:120px;word-break:keep-all;font-size:16px">'
        "대한민국의 수도 서울특별시에서 열리는 국제 회의 소식을 전해 드립니다</p>"
    )
    result = page.evaluate(SPLIT_WORDS_JS, None)
    assert result["bad"] == [] and result["lines"] > 2
