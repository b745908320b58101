"""What the editor sees before sending: a draft names each edition's audience, "send now" keeps the
plan in view, and the language switch keeps the page's filters."""

from __future__ import annotations

import html
import re

from tests.web.admin.conftest import csrf_of


def test_a_draft_names_each_editions_audience(admin, drafted):
    page = admin.get("/admin/issues/1?lang=en").text
    cells = dict(re.findall(r'<td class="audience" id="audience-(\w+)">([^<]*)</td>', page))
    # the sample readers: 4 Korean, 3 English, 2 both active (pending and unsubscribed not counted)
    assert cells == {"ko": "4 people", "en": "3 people", "both": "2 people"}
    ko = admin.get("/admin/issues/1?lang=ko").text
    assert "받는 사람" in ko and '<td class="audience" id="audience-ko">4명</td>' in ko


def test_send_now_keeps_the_plan_in_view(admin, drafted):
    token = csrf_of(admin.get("/admin/issues/1").text)
    admin.post(
        "/admin/issues/1/schedule",
        data={
            "csrf_token": token,
            "lang": "ko",
            "date": "2099-01-05",
            "time": "07:00",
            "timezone": "Asia/Seoul",
        },
    )
    r = admin.post("/admin/issues/1/action?lang=en", data={"csrf_token": token, "action": "send"})
    text = html.unescape(r.text)
    plan = text[text.index('<table id="confirm-plan">') :].split("</table>")[0]
    rows = dict(re.findall(r'<tr data-lang="(\w+)">(.*?)</tr>', plan))
    assert set(rows) == {"ko", "en", "both"}
    assert "2099-01-05 07:00" in rows["ko"] and "Not scheduled" in rows["en"]
    assert all("Goes out now" in row for row in rows.values())
    assert "<th>Subject</th>" in plan


def test_the_language_switch_keeps_the_pages_filters(admin, subscribers_by_lang):
    page = admin.get("/admin/subscribers?q=ko1&status=active&lang=ko&ui=en").text
    switch = html.unescape(re.search(r'<a href="([^"]+)" lang="ko">', page).group(1))
    assert switch.startswith("/admin/subscribers?")
    assert all(p in switch for p in ("q=ko1", "status=active", "lang=ko", "ui=ko"))
    notice = admin.get("/admin?n=saved&lang=en").text
    back = html.unescape(re.search(r'<a href="([^"]+)" lang="ko">', notice).group(1))
    assert back == "/admin?lang=ko"  # a notice is said once, not again in the other language
