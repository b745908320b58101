"""The issue page as an editor's workbench, in Chromium: a note typed and left unsaved survives another
story's button (answered in place, the row acted on kept under the pointer), and an edited subject
naming a dropped story is marked and warned about (screenshots in both languages at desktop and phone
width)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from mailer.issues.digest import stories_of
from mailer.issues.models import IssueStory

from .test_browser import browser, log_in, server  # noqa: F401  (the Chromium and `mailer serve` fixtures)

# Taken again into docs/screenshots/ only when asked (MAILER_SCREENSHOTS=docs/screenshots); a plain
# run keeps them in test-artifacts/ and leaves the checkout as it was.
SHOTS = Path(__file__).resolve().parents[3] / (
    os.environ.get("MAILER_SCREENSHOTS") or "test-artifacts"
)
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_typed_note_survives_another_button_and_the_scroll_is_kept(
    server,  # noqa: F811
    browser,  # noqa: F811
    session,
):
    page = browser.new_page(viewport={"width": 1366, "height": 900}, color_scheme="light")
    log_in(page, server)
    page.goto(f"{server}/admin/issues/1?lang=ko")
    first, second = (page.locator("tr.story").nth(i).get_attribute("data-article") for i in (0, 1))
    note = page.locator(f"#story-note-{first}-ko")
    note.scroll_into_view_if_needed()
    page.mouse.wheel(0, 300)
    note.press_sequentially("김장 소식부터 읽어 보세요")
    state = page.locator(f'.save-state[data-for="story-note-{first}-ko"]')
    assert "unsaved" in state.get_attribute("class") or "saving" in state.get_attribute("class")
    page.wait_for_timeout(100)
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 200
    # at once, before the note's own save is due: another story's button, answered in place
    moved = page.locator(f"tr.story[data-article='{second}']")
    under_pointer = moved.evaluate("r => r.getBoundingClientRect().top")
    moved.locator("button[value=down]").click()
    page.wait_for_function(
        "id => document.querySelectorAll('tr.story')[2].dataset.article === id", arg=second
    )
    assert page.locator(f"#story-note-{first}-ko").input_value() == "김장 소식부터 읽어 보세요"
    # the row moved stays under the pointer (the page scrolled with it), its button ready again
    page.wait_for_selector(f"tr.story[data-article='{second}'] button[value=down]:focus")
    assert abs(moved.evaluate("r => r.getBoundingClientRect().top") - under_pointer) < 3
    assert page.url.endswith("/admin/issues/1?lang=ko")  # no page was loaded
    session.expire_all()
    saved = session.scalar(select(IssueStory).where(IssueStory.article_id == int(first)))
    assert saved.note_ko == "김장 소식부터 읽어 보세요"

    # saved as typed, without any button: the mark says so and a reload shows it
    page.locator(f"#story-note-{second}-ko").press_sequentially("교통 소식")
    page.wait_for_selector(f'.save-state.saved[data-for="story-note-{second}-ko"]')
    assert page.inner_text(f'.save-state[data-for="story-note-{second}-ko"]') == "저장됨"
    page.reload()
    assert page.locator(f"#story-note-{second}-ko").input_value() == "교통 소식"


def test_an_edited_subject_naming_a_dropped_story_is_warned_about(
    server,  # noqa: F811
    browser,  # noqa: F811
    session,
):
    from mailer.issues.service import get_issue

    SHOTS.mkdir(parents=True, exist_ok=True)
    issue = get_issue(session, 1)
    lead_id, lead = next(
        (story.article_id, sides["ko"]["title"])
        for story, sides in zip(issue.stories, stories_of(session, issue), strict=True)
        if sides["ko"]
    )
    page = browser.new_page(viewport={"width": 1366, "height": 900}, color_scheme="light")
    log_in(page, server)
    page.goto(f"{server}/admin/issues/1?lang=ko")
    page.fill("#subject_ko", f"이번 주 꼭 읽을 기사: {lead}")
    page.click("form[action$='/editions'] button[type=submit]")
    page.wait_for_selector(".notice")
    page.locator(f"tr.story[data-article='{lead_id}'] button[value=remove]").click()
    page.wait_for_selector(f"tr.story[data-article='{lead_id}']", state="detached")
    page.wait_for_selector("#edition-ko .stale-head")
    assert page.locator("#subject_ko").input_value() == f"이번 주 꼭 읽을 기사: {lead}"
    warning = page.locator("#edition-ko .stale-head")
    assert warning.count() == 1 and lead in warning.inner_text()
    assert page.locator('[data-edited="subject_ko"]').inner_text() == "직접 수정함"
    for lang in ("ko", "en"):
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{server}/admin/issues/1?lang={lang}")
            page.locator("#editions-form").evaluate("el => el.closest('section').scrollIntoView()")
            page.screenshot(path=str(SHOTS / f"desk23-issue-{lang}-{width}.png"))
    # the default back: it follows the stories, the mark and the warning are gone
    page.click('button[name=default][value="subject_ko"]')
    page.wait_for_selector(".notice")
    assert lead not in page.locator("#subject_ko").input_value()
    assert page.locator("#edition-ko .stale-head").count() == 0
