"""Story actions in place: a request from the issue page's htmx (the HX-Request header) gets the
story list fragment, rendered with the page's own macros, with the subjects, preheaders, coverage line
and inbox lines swapped out of band; a plain form post still gets the page again (a redirect). The
CSRF token and the login are checked as for every desk form."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailer.articles.models import Article
from mailer.issues.models import Issue, IssueStory
from tests.web.admin.conftest import PASSWORD, csrf_of, log_in

HX = {"HX-Request": "true", "HX-Target": "story-list"}


def _order(text: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="story[^"]*" data-article="(\d+)"', text)]


def _post(client, path: str, headers=None, **data):
    token = csrf_of(client.get("/admin/issues/1").text)
    return client.post(
        f"/admin/issues/1{path}", data={"csrf_token": token, **data}, headers=headers
    )


def _stored(session) -> list[int]:
    session.expire_all()
    issue = session.scalar(select(Issue).where(Issue.number == 1))
    return [s.article_id for s in issue.stories]


def _extra(session, lang: str, title: str) -> Article:
    """A fresh story of `lang` in no issue (the sample's are all in the drafted one)."""
    from mailer.db import utcnow

    feed_id = session.scalar(select(Article.feed_id).where(Article.lang == lang).limit(1))
    article = Article(
        feed_id=feed_id,
        lang=lang,
        guid=f"extra-{title}",
        url=f"https://news.example.com/{lang}/extra-{len(title)}",
        title=title,
        published_at=utcnow(),
    )
    session.add(article)
    session.commit()
    return article


def _fragment(response) -> str:
    assert response.status_code == 200, response.text[:500]
    text = response.text
    assert text.lstrip().startswith('<div id="story-list"') and "<html" not in text
    assert response.headers["cache-control"] == "no-store"
    return text


@pytest.mark.parametrize("action", ["up", "down", "pin", "remove"])
def test_each_story_button_answers_htmx_with_the_fragment_and_a_form_with_the_page(
    admin, session, issue, action
):
    ids = _stored(session)
    second = ids[1]
    text = _fragment(_post(admin, "/stories", HX, action=action, article_id=second))
    expected = {
        "up": [second, ids[0], *ids[2:]],
        "down": [ids[0], ids[2], second, *ids[3:]],
        "pin": [second, ids[0], *ids[2:]],
        "remove": [ids[0], *ids[2:]],
    }[action]
    assert _order(text) == expected == _stored(session)
    # what follows the stories comes along, out of band, from the same macros as the page
    for lang in ("ko", "en", "both"):
        assert f'<div id="heads-{lang}" hx-swap-oob="true">' in text
        assert f'id="inbox-{lang}" data-lang="{lang}" hx-swap-oob="true"' in text
    assert '<div id="coverage-line" hx-swap-oob="true">' in text
    assert 'class="notice story-notice"' in text
    # the note fields are kept by the page as they are (typed text survives the swap)
    assert text.count('hx-preserve="true"') == 2 * len(expected)
    # the page renders the same list: same rows, same forms
    page = admin.get("/admin/issues/1").text
    assert _order(page) == expected and '<div id="story-list"' in page
    # without htmx: the form posts and the page is shown again
    plain = _post(admin, "/stories", action="down", article_id=ids[0])
    assert plain.status_code == 303 and plain.headers["location"] == "/admin/issues/1?n=saved"


def test_a_story_is_added_in_place(admin, session, issue):
    candidate = _extra(session, "en", "Han River ferries return").id
    assert f'<option value="{candidate}"' in admin.get("/admin/issues/1").text
    text = _fragment(_post(admin, "/stories", HX, action="add", article_id=candidate))
    assert _order(text)[-1] == candidate == _stored(session)[-1]
    assert f'id="story-note-{candidate}-ko"' in text


def test_a_dropped_lead_takes_the_default_subject_with_it(admin, session, issue):
    lead = session.get(Article, _stored(session)[0])
    titles = {lead.title} | ({session.get(Article, lead.pair_id).title} if lead.pair_id else set())
    subjects = re.findall(
        r'id="subject_\w+" name="subject_\w+" value="([^"]*)"', admin.get("/admin/issues/1").text
    )
    assert any(
        t in html.unescape(s) for t in titles for s in subjects
    )  # the default names the lead
    text = html.unescape(
        _fragment(_post(admin, "/stories", HX, action="remove", article_id=lead.id))
    )
    heads = re.findall(r'id="subject_(\w+)" name="subject_\w+" value="([^"]*)"', text)
    assert {lang for lang, _ in heads} == {"ko", "en", "both"}
    for lang, subject in heads:
        assert not any(t in subject for t in titles), (lang, subject)
    session.expire_all()
    stored = session.scalar(select(Issue).where(Issue.number == 1))
    assert {e.lang: e.subject for e in stored.editions} == dict(heads)


def test_the_dragged_order_is_saved_whole_and_a_stale_one_changes_nothing(admin, session, issue):
    ids = _stored(session)
    wanted = [ids[-1], *ids[:-1]]
    text = _fragment(_post(admin, "/stories/order", HX, order=",".join(map(str, wanted))))
    assert _order(text) == wanted == _stored(session)
    assert f'name="order" value="{",".join(map(str, wanted))}"' in text
    for bad in (",".join(map(str, wanted[:-1])), "1,x", "99999999999", "", "1,1"):
        refused = _post(admin, "/stories/order", HX, order=bad)
        assert refused.status_code == 422 and 'class="error"' in refused.text
        assert "페이지가 최신이 아니어서" in refused.text or "out of date" in refused.text
        assert _stored(session) == wanted
    plain = _post(admin, "/stories/order", order=",".join(map(str, ids)))
    assert plain.status_code == 303 and _stored(session) == ids


def test_a_refusal_comes_in_the_fragment_in_the_pages_language(admin, session, issue):
    for article_id in _stored(session)[1:]:
        _post(admin, "/stories", HX, action="remove", article_id=article_id)
    last = _stored(session)
    refused = _post(admin, "/stories?lang=ko", HX, action="remove", article_id=last[0])
    assert refused.status_code == 422 and "호에는 기사가 하나 이상 있어야 합니다." in refused.text
    assert refused.text.lstrip().startswith('<div id="story-list"')
    assert _stored(session) == last


def test_csrf_and_login_are_checked_for_htmx_as_for_forms(admin, anonymous, session, issue):
    ids = _stored(session)
    for path, data in (
        ("/stories", {"action": "up", "article_id": ids[1]}),
        ("/stories/order", {"order": ",".join(map(str, reversed(ids)))}),
        ("/stories/pair", {"action": "unpair", "article_id": ids[0]}),
    ):
        for token in ("", "forged"):
            r = admin.post(f"/admin/issues/1{path}", data={"csrf_token": token, **data}, headers=HX)
            assert r.status_code == 403
    assert _stored(session) == ids
    admin.cookies.clear()
    r = admin.post(
        "/admin/issues/1/stories",
        data={"action": "up", "article_id": ids[1]},
        headers={**HX, "Referer": "https://testserver/admin/issues/1?lang=ko"},
    )
    # htmx leaves the page for the login form (instead of putting it in the list)
    assert r.status_code == 401 and r.headers["hx-redirect"] == "/admin/login?next=/admin/issues/1"
    r = admin.post("/admin/issues/1/stories", data={"action": "up", "article_id": ids[1]})
    assert r.status_code == 401 and "hx-redirect" not in r.headers
    assert _stored(session) == ids


def test_a_plain_editor_may_curate_in_place(runtime, session, issue):
    from mailer.web.admin.accounts import create_user
    from mailer.web.app import create_app

    create_user(session, "jun", PASSWORD, role="editor")
    session.commit()
    client = TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)
    assert log_in(client, "jun").status_code == 303
    ids = _stored(session)
    assert (
        _order(_fragment(_post(client, "/stories", HX, action="pin", article_id=ids[2])))[0]
        == ids[2]
    )
    page = client.get("/admin/issues/1").text
    assert 'name="confirm"' not in page  # still no admin's send button for an editor


def test_a_story_is_unpaired_and_paired_again_from_the_desk(admin, session, issue):
    stored = [session.get(Article, i) for i in _stored(session)]
    story = next(a for a in stored if a.pair_id)
    partner_id = story.pair_id
    text = html.unescape(
        _fragment(_post(admin, "/stories/pair?lang=en", HX, action="unpair", article_id=story.id))
    )
    session.expire_all()
    assert session.get(Article, story.id).pair_id is None
    assert re.search(r'id="coverage-line" hx-swap-oob="true"><p id="coverage"', text)
    # the freed translation is offered for pairing, in that story's row
    row = text[text.index(f'data-article="{story.id}"') :].split("</tr>")[0]
    assert f'<option value="{partner_id}"' in row and "Pair with its translation" in row
    text = _fragment(
        _post(admin, "/stories/pair", HX, action="pair", article_id=story.id, partner_id=partner_id)
    )
    session.expire_all()
    assert session.get(Article, story.id).pair_id == partner_id
    # a story in an issue (this one) cannot be paired with another story of it
    other = next(a for a in stored if a.id != story.id)
    refused = _post(
        admin, "/stories/pair?lang=en", HX, action="pair", article_id=story.id, partner_id=other.id
    )
    assert refused.status_code == 422 and "cannot be paired" in html.unescape(refused.text)
    session.expire_all()
    assert session.get(Article, story.id).pair_id == partner_id
    plain = _post(admin, "/stories/pair", action="unpair", article_id=story.id)
    assert plain.status_code == 303
    assert session.scalar(select(IssueStory).where(IssueStory.article_id == story.id))
    # a story with one side is offered the unpaired stories of the other language, and paired
    fresh = _extra(session, "ko" if story.lang == "en" else "en", "새 번역 기사")
    text = _fragment(
        _post(admin, "/stories/pair", HX, action="pair", article_id=story.id, partner_id=fresh.id)
    )
    session.expire_all()
    assert session.get(Article, story.id).pair_id == fresh.id and "새 번역 기사" in text
    # same language: refused, in the page's language
    same = _extra(session, story.lang, "Same language story")
    refused = _post(
        admin, "/stories/pair?lang=ko", HX, action="pair", article_id=story.id, partner_id=same.id
    )
    assert (
        refused.status_code == 422
        and "짝은 한국어 기사 하나와 영어 기사 하나입니다." in refused.text
    )
