"""The desk's one stylesheet: linked from every desk page with a version in its URL, served to anyone
(the login page needs it) and cached for good under that version; no page carries its own styles."""

from __future__ import annotations

import re


def _link(html: str) -> str:
    found = re.findall(r'<link rel="stylesheet" href="(/admin/desk\.css\?v=[0-9a-f]{12})">', html)
    assert len(found) == 1, found
    return found[0]


def test_every_desk_page_links_the_one_stylesheet_and_has_no_style_of_its_own(admin, issue):
    for url in (
        "/admin",
        f"/admin/issues/{issue.number}",
        f"/admin/issues/{issue.number}/report",
        "/admin/reports",
        "/admin/subscribers",
        "/admin/feeds",
        "/admin/editors",
        "/admin/two-factor",
        "/admin/mails/welcome",
        "/admin/signup-form",
    ):
        page = admin.get(url)
        assert page.status_code == 200, url
        _link(page.text)
        own = re.sub(
            r"<textarea.*?</textarea>", "", page.text, flags=re.DOTALL
        )  # a snippet to copy is content
        assert "<style" not in own and " style=" not in own, url


def test_the_stylesheet_is_public_and_cached_under_its_version(anonymous):
    url = _link(anonymous.get("/admin/login").text)
    sheet = anonymous.get(url)
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/css")
    assert (
        "immutable" in sheet.headers["cache-control"]
        and "max-age=31536000" in sheet.headers["cache-control"]
    )
    assert "--text-m" in sheet.text and "prefers-color-scheme: dark" in sheet.text
    # an old version (a page cached before a deploy) still gets the sheet, but not to keep
    stale = anonymous.get("/admin/desk.css?v=000000000000")
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"
