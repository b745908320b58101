"""The desk's feeds page: the list in the page's language, add through the CLI's URL guard, pause,
remove and fetch now, and only an admin changes anything."""

from __future__ import annotations

import html

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailer.articles.ingest import add_feed, ingest_all
from mailer.articles.listing import feed_report
from mailer.articles.models import Article, Feed
from mailer.db import utcnow
from mailer.web.app import create_app

from .conftest import PASSWORD, csrf_of, log_in


def _token(client) -> str:
    return csrf_of(client.get("/admin/feeds?lang=ko").text)


def _feeds(session) -> list[Feed]:
    session.expire_all()
    return list(session.scalars(select(Feed).order_by(Feed.id)))


def _stories(session, feed_id: int) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).where(Article.feed_id == feed_id))


def test_the_list_shows_each_feed_with_its_error_in_korean(admin, session, ingested, settings):
    broken = add_feed(session, "https://feeds.example.org/gone.xml", "en", settings)
    broken.last_error = "HTTP 404 from https://feeds.example.org/gone.xml"
    session.commit()
    text = html.unescape(admin.get("/admin/feeds?lang=ko").text)
    assert text.count('class="feed"') == 3
    assert "피드" in text and "마지막 오류:" in text
    assert '<span translate="no" lang="en">HTTP 404 from' in text
    assert "한국어" in text and "영어" in text  # each feed's language, named in Korean


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "/etc/hosts", "http://127.0.0.1:8000/feed.xml", "ftp://x.org/f"]
)
def test_add_refuses_what_the_cli_refuses_in_production(make_runtime, editor, session, url):
    client = TestClient(
        create_app(make_runtime(feed_allow_private=False)),
        base_url="https://testserver",
        follow_redirects=False,
    )
    assert log_in(client).status_code == 303
    answer = client.post(
        "/admin/feeds/add?lang=ko", data={"url": url, "lang": "en", "csrf_token": _token(client)}
    )
    assert answer.status_code == 400
    assert "피드를 추가하지 않았습니다." in html.unescape(answer.text)
    assert _feeds(session) == []


def test_add_accepts_a_good_feed_and_refuses_it_twice(admin, session, sample_feeds):
    url = str(sample_feeds["ko"])
    form = {"url": url, "lang": "ko", "csrf_token": _token(admin)}
    assert admin.post("/admin/feeds/add", data=form).status_code == 303
    assert [(f.url, f.lang, f.paused) for f in _feeds(session)] == [(url, "ko", False)]
    again = admin.post("/admin/feeds/add?lang=ko", data=form)
    assert again.status_code == 400 and len(_feeds(session)) == 1


def test_a_paused_feed_is_not_ingested_until_resumed(admin, session, sample_feeds, settings):
    feed = add_feed(session, str(sample_feeds["en"]), "en", settings)
    session.commit()
    token = _token(admin)
    assert (
        admin.post(f"/admin/feeds/{feed.id}/pause", data={"csrf_token": token}).status_code == 303
    )
    assert ingest_all(session, utcnow(), settings) == []
    assert _stories(session, feed.id) == 0
    assert "일시 중지됨" in admin.get("/admin/feeds?lang=ko").text
    assert [r["paused"] for r in feed_report(session)] == [True]  # `mailer feeds list` says so too
    admin.post(f"/admin/feeds/{feed.id}/resume", data={"csrf_token": token})
    ingest_all(session, utcnow(), settings)
    assert _stories(session, feed.id) > 0


def test_fetch_now_ingests_one_feed_or_all(admin, session, sample_feeds, settings):
    en = add_feed(session, str(sample_feeds["en"]), "en", settings)
    ko = add_feed(session, str(sample_feeds["ko"]), "ko", settings)
    session.commit()
    token = _token(admin)
    answer = admin.post(f"/admin/feeds/{en.id}/fetch", data={"csrf_token": token})
    assert answer.status_code == 303 and "notice=fetching" in answer.headers["location"]
    assert _stories(session, en.id) > 0 and _stories(session, ko.id) == 0
    assert admin.post("/admin/feeds/fetch", data={"csrf_token": token}).status_code == 303
    assert _stories(session, ko.id) > 0


def test_remove_takes_the_feed_and_its_stories(admin, session, ingested):
    gone, kept = (f.id for f in _feeds(session))
    assert _stories(session, gone) > 0
    answer = admin.post(f"/admin/feeds/{gone}/remove", data={"csrf_token": _token(admin)})
    assert answer.status_code == 303
    assert [f.id for f in _feeds(session)] == [kept]
    assert _stories(session, gone) == 0 and _stories(session, kept) > 0
    missing = admin.post(f"/admin/feeds/{gone}/remove?lang=ko", data={"csrf_token": _token(admin)})
    assert missing.status_code == 404 and "그런 피드가 없습니다." in missing.text


def test_an_editor_sees_the_feeds_but_changes_nothing(anonymous, session, ingested):
    from mailer.web.admin.accounts import create_user

    create_user(session, "jun", PASSWORD, role="editor")
    session.commit()
    assert log_in(anonymous, "jun").status_code == 303
    page = anonymous.get("/admin/feeds?lang=ko")
    assert page.status_code == 200 and page.text.count('class="feed"') == 2
    assert 'action="/admin/feeds/add"' not in page.text
    token = csrf_of(page.text)
    added = anonymous.post(
        "/admin/feeds/add",
        data={"url": "https://example.org/f.xml", "lang": "en", "csrf_token": token},
    )
    assert added.status_code == 403
    feed = _feeds(session)[0]
    assert (
        anonymous.post(f"/admin/feeds/{feed.id}/pause", data={"csrf_token": token}).status_code
        == 403
    )
    assert len(_feeds(session)) == 2 and not _feeds(session)[0].paused
