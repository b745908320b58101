"""The desk's page for the embeddable sign-up form: a snippet per page language, pointing at this
server, with the widget's pinned script from here, and what MAILER_SIGNUP_ORIGINS allows."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from mailer.web.app import create_app

from .conftest import PASSWORD, log_in


def _snippet(page: str, lang: str) -> str:
    found = re.search(rf'<textarea id="snippet-{lang}"[^>]*>(.*?)</textarea>', page, re.DOTALL)
    assert found, f"no {lang} snippet"
    return html.unescape(found.group(1))


def test_the_page_gives_a_korean_and_an_english_snippet(admin):
    dashboard = admin.get("/admin?lang=ko")
    assert 'href="/admin/signup-form"' in dashboard.text
    page = admin.get("/admin/signup-form?lang=ko")
    assert page.status_code == 200 and "뉴스 사이트용 구독 양식" in page.text
    ko, en = _snippet(page.text, "ko"), _snippet(page.text, "en")
    assert 'action="https://news.example.com/signup?lang=ko"' in ko
    assert 'action="https://news.example.com/signup?lang=en"' in en
    for snippet in (ko, en):
        assert '<altcha-widget challenge="https://news.example.com/signup/challenge"' in snippet
        assert (
            '<script defer src="https://news.example.com/static/altcha/altcha-3.2.2.min.js">'
            in (snippet)
        )
        assert 'name="email"' in snippet and 'name="website"' in snippet
        assert 'tabindex="-1"' in snippet and 'value="both"' in snippet
        assert "csrf" not in snippet  # another site's page cannot have our token
    assert "이메일 주소" in ko and "구독" in ko and 'language="ko"' in ko
    assert "altcha-3.2.2-ko.js" in ko and "altcha-3.2.2-ko.js" not in en
    assert "Email address" in en and 'value="en" checked' in en
    assert "MAILER_SIGNUP_ORIGINS" in page.text and "아직 없습니다" in page.text
    assert "양식이 동작하는 사이트" in page.text
    assert admin.get("/static/altcha/altcha-3.2.2-ko.js").status_code == 200


def test_an_editor_may_see_it_and_a_stranger_may_not(anonymous, session):
    from mailer.web.admin.accounts import create_user

    assert anonymous.get("/admin/signup-form").status_code in (302, 303)
    create_user(session, "jun", PASSWORD, role="editor")
    session.commit()
    assert log_in(anonymous, "jun").status_code == 303
    page = anonymous.get("/admin/signup-form?lang=en")
    assert page.status_code == 200 and "Sign-up form for the news site" in page.text


def test_the_page_lists_the_allowed_origins(make_runtime, session, editor):
    runtime = make_runtime(signup_origins="https://www.news.example.com,https://m.news.example.com")
    client = TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)
    assert log_in(client).status_code == 303
    page = client.get("/admin/signup-form?lang=en")
    assert '<li translate="no">https://www.news.example.com</li>' in page.text
    assert '<li translate="no">https://m.news.example.com</li>' in page.text
    assert "None yet" not in page.text
