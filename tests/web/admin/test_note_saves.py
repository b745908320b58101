"""One note saved alone, as the issue page's script posts it while the editor types: saved with the
session's CSRF token by a logged-in editor, refused otherwise, nothing changed on a refusal."""

from __future__ import annotations

from sqlalchemy import select

from mailer.issues.models import Edition, IssueStory
from tests.web.admin.conftest import csrf_of


def _story_notes(session, issue, article_id):
    session.expire_all()
    return session.scalar(
        select(IssueStory).where(
            IssueStory.issue_id == issue.id, IssueStory.article_id == article_id
        )
    ).notes()


def test_a_story_note_is_saved_alone_and_shows_in_the_edition(admin, issue, session):
    article_id = issue.stories[1].article_id
    token = csrf_of(admin.get("/admin/issues/1").text)
    url = f"/admin/issues/1/stories/{article_id}/note"
    r = admin.post(url, data={"csrf_token": token, "lang": "ko", "note": "꼭 읽어 보세요"})
    assert r.status_code == 204
    assert _story_notes(session, issue, article_id) == {"ko": "꼭 읽어 보세요", "en": None}
    ko = session.scalar(select(Edition).where(Edition.issue_id == issue.id, Edition.lang == "ko"))
    assert "꼭 읽어 보세요" in ko.html  # re-rendered with it


def test_an_intro_note_is_saved_alone(admin, issue, session):
    token = csrf_of(admin.get("/admin/issues/1").text)
    r = admin.post("/admin/issues/1/editions/en/note", data={"csrf_token": token, "note": "Hi. "})
    assert r.status_code == 204
    session.expire_all()
    assert (
        session.scalar(
            select(Edition.note).where(Edition.issue_id == issue.id, Edition.lang == "en")
        )
        == "Hi."
    )


def test_without_the_token_or_a_login_nothing_is_saved(admin, anonymous, issue, session):
    article_id = issue.stories[0].article_id
    url = f"/admin/issues/1/stories/{article_id}/note"
    assert admin.post(url, data={"lang": "ko", "note": "x"}).status_code == 403
    assert (
        admin.post(url, data={"csrf_token": "forged", "lang": "ko", "note": "x"}).status_code == 403
    )
    assert admin.post("/admin/issues/1/editions/ko/note", data={"note": "x"}).status_code == 403
    admin.post("/admin/logout", data={"csrf_token": csrf_of(admin.get("/admin").text)})
    assert (
        anonymous.post(url, data={"csrf_token": "x", "lang": "ko", "note": "x"}).status_code == 401
    )
    assert _story_notes(session, issue, article_id) == {"ko": None, "en": None}


def test_a_refused_note_says_why_in_the_page_language(admin, issue, session):
    token = csrf_of(admin.get("/admin/issues/1").text)
    article_id = issue.stories[0].article_id
    r = admin.post(
        f"/admin/issues/1/stories/{article_id}/note?lang=ko",
        data={"csrf_token": token, "lang": "fr", "note": "x"},
    )
    assert r.status_code == 422 and r.json() == {"error": "메모는 한국어나 영어로 씁니다."}
    r = admin.post(
        "/admin/issues/1/stories/999999/note?lang=en",
        data={"csrf_token": token, "lang": "ko", "note": "x"},
    )
    assert r.status_code == 422 and r.json() == {"error": "That story is not in this issue."}
    r = admin.post("/admin/issues/1/editions/both/note", data={"csrf_token": token, "note": "x"})
    assert r.status_code == 422
    assert _story_notes(session, issue, article_id) == {"ko": None, "en": None}
