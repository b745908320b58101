"""The issue page as a workbench, in Chromium, on a desk's screen (1366 px) and a phone's (390 px):
story actions swap the list in place (no page load), a note being typed survives every other action,
a pin does not move the list under the editor, a dropped lead takes the default subject with it, drag
and drop reorders, and the previews load one edition at a time, when its tab is opened, sized to the
mail. On the phone the handle and the buttons are big enough for a thumb, and nothing runs past the
edge (screenshots of the page in both languages, light and dark)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from mailer.issues.models import Issue, IssueStory

from .test_browser import browser, log_in, server  # noqa: F401  (the Chromium and `mailer serve` fixtures)

# Taken again into docs/screenshots/ only when asked (MAILER_SCREENSHOTS=docs/screenshots); a plain
# run keeps them in test-artifacts/ and leaves the checkout as it was.
SHOTS = Path(__file__).resolve().parents[3] / (
    os.environ.get("MAILER_SCREENSHOTS") or "test-artifacts"
)
pytestmark = [pytest.mark.browser, pytest.mark.slow]
WIDTHS = [1366, 390]  # a desk's screen, and a phone's


def _viewport(width: int) -> dict:
    return {"width": width, "height": 900 if width > 600 else 844}


def _order(page) -> list[str]:
    return page.eval_on_selector_all("tr.story", "rows => rows.map(r => r.dataset.article)")


def _act(page, action) -> list[str]:
    """Do a story action; the order once the server's list is swapped in (the page counts swaps)."""
    n = page.evaluate("window.swaps")
    action()
    page.wait_for_function(
        "n => window.swaps > n && !document.querySelector('.htmx-request')", arg=n
    )
    return _order(page)


def _top(page, article: str) -> float:
    return page.locator(f"tr.story[data-article='{article}']").evaluate(
        "r => r.getBoundingClientRect().top"
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_story_actions_in_place_keep_the_typed_note_and_the_editors_place(
    server,  # noqa: F811
    browser,  # noqa: F811
    session,
    width,
):
    page = browser.new_page(viewport=_viewport(width), color_scheme="light")
    log_in(page, server)
    page.goto(f"{server}/admin/issues/1?lang=ko")
    loads = []
    page.on("framenavigated", lambda f: loads.append(f.url) if f == page.main_frame else None)
    page.evaluate("window.deskMarker = 'still here'")
    page.evaluate(
        "window.swaps = 0; document.addEventListener('htmx:afterSettle', () => window.swaps++)"
    )
    ids = _order(page)
    first, second = ids[0], ids[1]
    if width < 600:  # on a phone: nothing past the edge, a handle and buttons a thumb can hit
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        sizes = page.eval_on_selector_all(
            "tr.story .drag-handle, tr.story button[name=do]",
            "els => els.map(e => [e.getBoundingClientRect().width, e.getBoundingClientRect().height])",
        )
        assert sizes and all(w >= 44 and h >= 44 for w, h in sizes), sizes

    # a note typed, and at once, before its own save is due, another story's button
    note = page.locator(f"#story-note-{first}-ko")
    note.scroll_into_view_if_needed()
    note.press_sequentially("김장 소식부터 읽어 보세요")
    ids = _act(
        page, lambda: page.locator(f"tr.story[data-article='{second}'] button[value=down]").click()
    )
    assert ids.index(second) == 2
    assert page.locator(f"#story-note-{first}-ko").input_value() == "김장 소식부터 읽어 보세요"

    # a preheader being written (not saved yet) is kept when the new defaults come out of band
    page.fill("#preheader_en", "A preheader of my own, not saved yet")
    ids = _act(
        page, lambda: page.locator(f"tr.story[data-article='{second}'] button[value=up]").click()
    )
    assert page.locator("#preheader_en").input_value() == "A preheader of my own, not saved yet"

    # pin a story further down: it leads, and its neighbour stays where it was on the screen
    target = next(
        i for i in ids[4:-1] if page.locator(f"tr.story[data-article='{i}'] span[lang=ko]").count()
    )
    neighbour = ids[ids.index(target) + 1]
    page.locator(f"tr.story[data-article='{target}']").scroll_into_view_if_needed()
    before = _top(page, neighbour)
    ids = _act(
        page, lambda: page.locator(f"tr.story[data-article='{target}'] button[value=pin]").click()
    )
    assert ids[0] == target
    assert abs(_top(page, neighbour) - before) < 3, "the list moved under the editor"
    assert page.locator(f"#story-note-{first}-ko").input_value() == "김장 소식부터 읽어 보세요"

    # the pinned lead names the Korean subject; dropped, the subject follows the new lead
    lead = page.inner_text(f"tr.story[data-article='{target}'] span[lang=ko]")
    assert lead in page.locator("#subject_ko").input_value()
    ids = _act(
        page,
        lambda: page.locator(f"tr.story[data-article='{target}'] button[value=remove]").click(),
    )
    assert target not in ids
    page.wait_for_function(
        "lead => !document.getElementById('subject_ko').value.includes(lead)", arg=lead
    )
    assert lead not in page.inner_text("#inbox-ko .inbox-subject")

    # drag the last story by its handle above the one two rows up (on a phone, where a card is a third
    # of the screen, the one just above)
    last, above = ids[-1], ids[-3] if width > 600 else ids[-2]
    page.wait_for_load_state("networkidle")  # the drop's swap and its preview settled first
    # at once (a wheel's or a smooth scroll may land after the measures), the row dropped onto well
    # below the top edge, where a drag would scroll the page
    page.locator(f"tr.story[data-article='{above}']").evaluate(
        "r => { r.scrollIntoView({block: 'start', behavior: 'instant'});"
        " window.scrollBy({top: -150, behavior: 'instant'}); }"
    )
    handle = page.locator(f"tr.story[data-article='{last}'] .drag-handle").bounding_box()
    onto = page.locator(f"tr.story[data-article='{above}']").bounding_box()
    assert onto["y"] > 100 and handle["y"] + handle["height"] < _viewport(width)["height"]
    expected = [i for i in ids if i != last]
    expected.insert(expected.index(above), last)

    def drag():
        page.mouse.move(handle["x"] + 5, handle["y"] + 10)
        page.mouse.down()
        page.mouse.move(handle["x"] + 10, handle["y"] + 20, steps=5)
        page.mouse.move(onto["x"] + 50, onto["y"] + 5, steps=10)
        page.mouse.up()

    ids = _act(page, drag)
    assert ids == expected

    # the keyboard buttons are still there beside the handle, and focus stays on the one pressed
    page.locator(f"tr.story[data-article='{last}'] button[value=down]").focus()
    at = ids.index(last)
    ids = _act(page, lambda: page.keyboard.press("Enter"))
    assert ids.index(last) == at + 1
    assert page.evaluate("document.activeElement.closest('tr').dataset.article") == last

    # no page was loaded for any of it, and the typed note is still there, and saved
    assert page.evaluate("window.deskMarker") == "still here" and loads == []
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert page.locator(f"#story-note-{first}-ko").input_value() == "김장 소식부터 읽어 보세요"
    page.wait_for_selector(f'.save-state.saved[data-for="story-note-{first}-ko"]')
    session.expire_all()
    issue = session.scalar(select(Issue).where(Issue.number == 1))
    assert [str(s.article_id) for s in issue.stories] == ids
    saved = session.scalar(select(IssueStory).where(IssueStory.article_id == int(first)))
    assert saved.note_ko == "김장 소식부터 읽어 보세요"
    if width < 600:  # the page after the work, on a phone, in both languages, light and dark
        for lang in ("ko", "en"):
            page.goto(f"{server}/admin/issues/1?lang={lang}")
            page.wait_for_load_state("networkidle")
            for scheme, tail in (("light", ""), ("dark", "-dark")):
                page.emulate_media(color_scheme=scheme)
                shot = SHOTS / f"desk-issue-actions-{lang}-{width}{tail}.png"
                page.screenshot(path=str(shot), full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_previews_load_one_edition_when_its_tab_opens_sized_to_the_mail(
    server,  # noqa: F811
    browser,  # noqa: F811
    width,
):
    page = browser.new_page(viewport=_viewport(width), color_scheme="light")
    log_in(page, server)
    previews = []
    page.on("request", lambda r: previews.append(r.url) if "/preview/" in r.url else None)
    page.goto(f"{server}/admin/issues/1?lang=en")
    page.wait_for_load_state("networkidle")
    # nothing loaded but, at most, the open tab's frame (lazy: the page is short enough that it is near)
    assert [u.split("/preview/")[1] for u in previews] in ([], ["ko?fit=1"])
    frames = page.locator("iframe.mail-frame")
    assert frames.count() == 3
    page.locator("#previews").scroll_into_view_if_needed()
    page.wait_for_function(
        "() => parseInt(document.querySelector('#panel-ko iframe').style.height) > 0"
    )
    assert [u.split("/preview/")[1] for u in previews] == ["ko?fit=1"]
    assert page.locator("#panel-en").is_hidden() and page.locator("#panel-both").is_hidden()
    ko = page.locator("#panel-ko iframe").evaluate("f => parseInt(f.style.height)")
    assert ko > 1000  # sized to the whole mail, not clipped at 700 px

    page.click("#tab-en")
    page.wait_for_function(
        "() => parseInt(document.querySelector('#panel-en iframe').style.height) > 0"
    )
    assert page.locator("#panel-ko").is_hidden() and page.locator("#panel-en").is_visible()
    assert [u.split("/preview/")[1] for u in previews] == ["ko?fit=1", "en?fit=1"]

    # the phone view: narrower, so taller. The frame in sight first, at once: a frame off screen is not
    # laid out again (Chromium throttles it), and on a phone it is below the fold.
    page.locator("#panel-en").evaluate(
        "p => p.scrollIntoView({block: 'start', behavior: 'instant'})"
    )
    desktop = page.locator("#panel-en iframe").evaluate("f => parseInt(f.style.height)")
    page.locator("#panel-en .view[data-width='375']").first.click()
    page.wait_for_function(
        "h => parseInt(document.querySelector('#panel-en iframe').style.height) > h", arg=desktop
    )
    assert page.locator("#panel-en iframe").get_attribute("width") == "375"
    with page.expect_response("**/preview/en/dark?fit=1") as dark:
        page.locator("#panel-en .view").nth(2).click()
    assert dark.value.ok
    # three views of two editions seen, three mails fetched: the others were never loaded
    assert sorted(u.split("/preview/")[1] for u in previews) == [
        "en/dark?fit=1",
        "en?fit=1",
        "ko?fit=1",
    ]
