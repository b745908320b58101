"""The desk's preview of the welcome mail: each edition rendered from the mail's own templates, in a
sandboxed frame, for signed-in desk accounts only."""

from __future__ import annotations

import re

import pytest

from mailer.web.admin.preview_pages import SANDBOX


@pytest.mark.parametrize(
    ("lang", "subject", "sentence"),
    [
        ("ko", "서울 레저 주간 브리핑 구독을 환영합니다", "다음 호는"),
        ("en", "Welcome to The Seoul Ledger Weekly", "Your next issue comes on"),
        ("both", "Welcome to The Seoul Ledger Weekly", "다음 호는"),
    ],
)
def test_each_edition_previews_in_a_sandboxed_frame(admin, lang, subject, sentence):
    page = admin.get(f"/admin/mails/welcome?lang={lang}")
    assert page.status_code == 200 and subject in page.text
    frames = re.findall(r"<iframe [^>]*>", page.text)
    assert len(frames) == 2 and all(f'sandbox="{SANDBOX}"' in f for f in frames), frames
    src = re.search(r'src="(/admin/mails/welcome/[^"]+)"', frames[0]).group(1)
    frame = admin.get(src)
    policy = [p.strip() for p in frame.headers["content-security-policy"].split(";")]
    assert frame.status_code == 200 and f"sandbox {SANDBOX}" in policy
    assert sentence in frame.text and "/preferences/" in frame.text


def test_the_page_speaks_the_desks_language_and_the_dashboard_links_it(admin):
    assert "/admin/mails/welcome" in admin.get("/admin?lang=en").text
    page = admin.get("/admin/mails/welcome?lang=en&ui=ko")
    assert '<html lang="ko"' in page.text and "환영 메일" in page.text
    assert "Welcome mail" in admin.get("/admin/mails/welcome?ui=en").text


def test_an_unknown_edition_is_a_clear_error(admin):
    page = admin.get("/admin/mails/welcome?lang=fr&ui=en")
    assert page.status_code == 400 and "There is no such edition" in page.text
    assert admin.get("/admin/mails/welcome/fr/frame").status_code == 404


def test_only_desk_accounts_see_it(anonymous):
    for path in ("/admin/mails/welcome?lang=ko", "/admin/mails/welcome/ko/frame"):
        answer = anonymous.get(path)
        assert answer.status_code == 303 and "/admin/login" in answer.headers["location"]


def test_an_editor_sees_it_as_well_as_an_admin(anonymous, session):
    from mailer.web.admin.accounts import create_user
    from tests.web.admin.conftest import PASSWORD, log_in

    create_user(session, "first", PASSWORD, role="admin")
    create_user(session, "jun", PASSWORD, role="editor")
    session.commit()
    assert log_in(anonymous, "jun").status_code == 303
    assert anonymous.get("/admin/mails/welcome?lang=both").status_code == 200
