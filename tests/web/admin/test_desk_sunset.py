"""The desk counts and lists readers who stopped reading: asked, and paused."""

from __future__ import annotations

import re

from tests.web.test_stay import _asked


def test_the_dashboard_counts_and_the_list_filters_them(admin, session):
    _asked(session, "paused@example.com", paused=True)
    _asked(session, "asked@example.com")
    page = admin.get("/admin?lang=ko")
    assert "읽지 않는 독자" in page.text
    assert '/admin/subscribers?status=asked">계속 받을지 물어본 독자</a>: 1' in page.text
    assert '/admin/subscribers?status=paused">읽지 않아 일시 중지된 독자</a>: 1' in page.text
    asked = admin.get("/admin/subscribers?status=asked&lang=")
    assert "asked@example.com" in asked.text and "paused@example.com" not in asked.text
    paused = admin.get("/admin/subscribers?status=paused&lang=")
    assert "paused@example.com" in paused.text and "asked@example.com" not in paused.text
    sub_id = re.search(r'href="/admin/subscribers/(\d+)"', paused.text).group(1)
    sub_page = admin.get(f"/admin/subscribers/{sub_id}?lang=ko")
    assert "연속으로 읽지 않은 호" in sub_page.text
    assert "읽지 않아 일시 중지" in sub_page.text and "12개 호가 전달됨" in sub_page.text


def test_the_desk_previews_the_still_want_this_mail_in_each_edition(admin):
    assert "/admin/mails/reengage" in admin.get("/admin?lang=en").text
    page = admin.get("/admin/mails/reengage?lang=ko&ui=ko")
    assert page.status_code == 200 and "'계속 받으시겠어요?' 메일" in page.text
    assert "주간 브리핑을 계속 받으시겠어요?" in page.text  # the subject
    src = re.search(r'src="(/admin/mails/reengage/ko/frame)"', page.text).group(1)
    frame = admin.get(src)
    assert frame.status_code == 200 and "네, 계속 받겠습니다" in frame.text
    en = admin.get("/admin/mails/reengage/en/frame")
    assert "Yes, keep sending it" in en.text and "12 issues" in en.text
    assert admin.get("/admin/mails/nothing/ko/frame").status_code == 404
    assert "Welcome mail" in admin.get("/admin/mails/welcome?ui=en").text
