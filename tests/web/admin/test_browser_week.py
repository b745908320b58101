"""The editor's week from the desk in Chromium, in Korean and English at 1366 and 390 px: a feed is added
and fetched from the feeds page until its stories are counted there; a CSV is imported from the
subscribers page as readers subscribed now, with a consent source, its job page followed to the end, an
imported reader's history names the import, and the trends page counts it in growth's Imports column.
No Korean page on the way shows "UTC" or an English word outside content."""

from __future__ import annotations

import time

import pytest

from .test_browser import browser, log_in, serving  # noqa: F401  (browser: the Chromium fixture)
from .test_browser_walk import ENGLISH_WORDS_JS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROUNDS = (("ko", 1366), ("en", 390), ("ko", 390), ("en", 1366))
READERS = 3  # a round's CSV


def _look(page, lang: str, problems: list[str]) -> None:
    """A Korean page: no bare UTC and no English word outside content."""
    if lang != "ko":
        return
    where = page.url.split("?")[0]
    if "UTC" in page.inner_text("body"):
        problems.append(f"{where}: UTC shown")
    problems.extend(f"{where}: English: {w}" for w in page.evaluate(ENGLISH_WORDS_JS))


def _until(page, check, seconds: float = 20) -> None:
    """Reload the page until check() holds, as an editor waiting on a page would."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{page.url}: still waiting"
        time.sleep(0.3)
        page.reload()


def _feed_round(page, base: str, lang: str, url: str, problems: list[str]) -> None:
    page.goto(f"{base}/admin/feeds?lang={lang}")
    page.fill("#add-feed input[name=url]", url)
    page.select_option("#add-feed select[name=lang]", "ko")
    page.click("#add-feed button[type=submit]")
    page.wait_for_url("**/admin/feeds?notice=added")
    row = page.locator("#feeds tr.feed", has_text=url)
    assert row.locator("td").nth(3).inner_text() == "0"
    row.locator("form[action$='/fetch'] button").click()
    page.wait_for_url("**/admin/feeds?notice=fetching")
    _look(page, lang, problems)  # the "fetching now" notice
    _until(page, lambda: row.locator(".feed-state").inner_text().strip() != "")
    assert row.locator("td").nth(3).inner_text() == "10", row.inner_text()  # the sample's stories
    assert row.locator(".feed-state").inner_text() == ("정상" if lang == "ko" else "OK")
    _look(page, lang, problems)
    row.locator("form[action$='/remove'] button").click()  # for the next round, which adds it again
    page.wait_for_url("**/admin/feeds?notice=removed")
    assert page.locator("#feeds tr.feed", has_text=url).count() == 0


def _import_round(page, base: str, lang: str, n: int, tmp_path, problems: list[str]) -> None:
    emails = [f"week{n}-{i}@example.com" for i in range(READERS)]
    csv = tmp_path / f"week{n}.csv"
    csv.write_text("email,lang\n" + "".join(f"{e},ko\n" for e in emails), "utf-8")
    page.goto(f"{base}/admin/subscribers?ui={lang}")
    form = page.locator("#import form")
    form.locator("input[name=mode][value=confirmed]").check()
    form.locator("input[name=consent]").fill("Book fair sheet, March 2026")
    form.locator("input[type=file]").set_input_files(str(csv))
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/admin/subscribers/imports/*")
    _until(page, lambda: page.get_attribute("#job-progress", "value") == "100")
    counts = page.inner_text("#job-counts")
    assert str(READERS) in counts, counts
    _look(page, lang, problems)

    page.goto(f"{base}/admin/subscribers?ui={lang}&q={emails[0]}")
    assert page.locator("#recent-imports li").count() == n
    _look(page, lang, problems)  # with the recent imports listed
    page.click(f"a:text-is('{emails[0]}')")
    page.wait_for_url("**/admin/subscribers/*")
    history = page.locator("#history tr:not(.head)")
    assert history.count() == 1, page.inner_text("#history")
    added = history.first.inner_text()
    assert (
        ("추가" in added and "가져오기" in added)
        if lang == "ko"
        else ("added" in added.lower() and "import" in added.lower())
    ), added
    _look(page, lang, problems)

    page.goto(f"{base}/admin/reports?lang={lang}")
    page.click("#growth details > summary")  # the figures behind the charts, as a table
    table = page.locator("#table-growth")
    heads = [h.strip() for h in table.locator("th").all_inner_texts()]
    column = heads.index("가져오기" if lang == "ko" else "Imports")
    imported = sum(
        int(row.locator("td").nth(column).inner_text().replace(",", ""))
        for row in table.locator("tr:has(td.num)").all()
    )
    assert imported == READERS * n, (imported, table.inner_text())
    _look(page, lang, problems)


def test_an_editors_week_adds_and_fetches_a_feed_and_imports_readers(
    session,
    editor,
    sample_feeds,
    tmp_path,
    browser,  # noqa: F811
):
    problems: list[str] = []
    with serving() as base:
        page = browser.new_page(viewport={"width": 1366, "height": 900}, timezone_id="Asia/Seoul")
        log_in(page, base)
        for n, (lang, width) in enumerate(ROUNDS, start=1):
            page.set_viewport_size({"width": width, "height": 900})
            _feed_round(page, base, lang, str(sample_feeds["ko"]), problems)
            _import_round(page, base, lang, n, tmp_path, problems)
    assert not problems, "\n".join(sorted(set(problems)))
