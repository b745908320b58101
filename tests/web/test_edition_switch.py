"""The footer's one-click edition switch: a signed link whose GET shows one button (scanners change
nothing) and whose POST switches; the next issue then comes in the new edition."""

import re
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import select

from mailer.articles.models import Article, Feed
from mailer.db import utcnow
from mailer.delivery.facade import send_now
from mailer.issues.service import draft_issue
from subscribers import service, tokens
from subscribers.models import Change
from tests.web.conftest import csrf_of, tamper


@pytest.fixture
def reader(session):
    sub, _ = service.add(session, "reader@example.com", "ko", confirmed=True)
    session.commit()
    return sub


def _path(sub, target, settings, purpose=tokens.EDITION):
    return f"/edition/{tokens.make_token(purpose, sub.id, settings)}/{target}"


def _lang(session, sub):
    session.expire_all()
    return service.get(session, sub.id).lang


def _switches(session, sub):
    return session.scalars(
        select(Change).where(Change.subscriber_id == sub.id, Change.action == "language changed")
    ).all()


def test_get_and_head_show_one_button_and_change_nothing(client, session, reader, settings):
    path = _path(reader, "en", settings)
    for _ in range(3):
        page = client.get(path)
        assert page.status_code == 200 and 'lang="ko"' in page.text
        assert "한국어판" in page.text and "영어판으로 바꾸기" in page.text
        assert page.text.count("<button") == 1 and f'action="{path}"' in page.text
        assert client.head(path).status_code == 200
    assert _lang(session, reader) == "ko" and _switches(session, reader) == []


def test_the_button_switches_the_edition_not_the_pages_language(client, session, reader, settings):
    path = _path(reader, "en", settings)
    form = csrf_of(client.get(path).text)
    answer = client.post(path, data={"csrf_token": form})
    # a Korean reader who now receives the English edition still reads our pages in Korean
    assert answer.status_code == 200 and 'lang="ko"' in answer.text
    assert "다음 호부터" in answer.text
    assert _lang(session, reader) == "en"
    (row,) = _switches(session, reader)
    assert row.source == "edition-link" and row.ip and "ko" in row.detail and "en" in row.detail
    # the link again, the page in English: no button; the button pressed again (a second tab):
    # nothing more happens
    assert "You already receive the English edition." in client.get(f"{path}?lang=en").text
    assert client.post(path, data={"csrf_token": form}).status_code == 200
    assert len(_switches(session, reader)) == 1


def test_a_post_without_the_pages_token_changes_nothing(client, session, reader, settings):
    path = _path(reader, "both", settings)
    for data in ({}, {"csrf_token": "forged"}):
        answer = client.post(path, data=data)
        assert answer.status_code == 400 and "다시" in answer.text
    assert _lang(session, reader) == "ko"


@pytest.mark.parametrize("method", ["get", "post"])
def test_bad_links_are_refused_and_change_nothing(client, session, reader, settings, method):
    good = tokens.make_token(tokens.EDITION, reader.id, settings)
    for path in (
        f"/edition/{tamper(good)}/en",
        f"/edition/{good}/fr",
        _path(reader, "en", settings, tokens.PREFERENCES),  # another purpose's token
        _path(reader, "en", settings, tokens.UNSUBSCRIBE),
    ):
        answer = getattr(client, method)(path)
        assert answer.status_code == 400, path
    assert _lang(session, reader) == "ko"


def _mail_to(settings, issue_number, lang, to):
    folder = Path(settings.outbox_dir) / f"issue-{issue_number}" / lang
    for path in folder.glob("*.eml"):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        if message["To"] == to:
            return message
    return None


def test_the_link_in_a_sent_digest_switches_the_next_issue(
    client, session, ingested, reader, runtime, settings
):
    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    send_now(runtime, issue.number)
    mail = _mail_to(settings, issue.number, "ko", reader.email)
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    found = re.findall(r"https://news\.example\.com(/edition/[\w.-]+/(\w+))", text)
    links = {target: path for path, target in found}
    assert set(links) == {"en", "both"}  # the reader's other editions
    assert all(f"https://news.example.com{p}" in html for p in links.values())
    assert "%edition_url" not in text + html
    # one token signed per reader opens all of a digest's links: the switch, preferences, unsubscribe
    (token,) = {path.split("/")[2] for path in links.values()}
    assert f"https://news.example.com/preferences/{token}" in text
    assert f"https://news.example.com/unsubscribe/{token}" in text
    assert tokens.read(tokens.LINKS, token, settings).subscriber_id == reader.id
    page = client.get(links["en"])
    assert client.post(links["en"], data={"csrf_token": csrf_of(page.text)}).status_code == 200

    feed_id = session.scalar(select(Feed.id).where(Feed.lang == "en"))
    session.add(
        Article(
            feed_id=feed_id,
            lang="en",
            guid="later",
            url="https://news.example.com/en/later",
            title="A later story",
            published_at=utcnow(),
        )
    )
    session.commit()
    following = draft_issue(session, utcnow() + timedelta(seconds=1), settings)
    session.commit()
    send_now(runtime, following.number)
    assert _mail_to(settings, following.number, "en", reader.email) is not None
    assert _mail_to(settings, following.number, "ko", reader.email) is None


def test_a_reader_not_mailed_is_told_so_with_the_edition_saved(client, session, reader, settings):
    service.unsubscribe(session, reader.id)
    session.commit()
    path = _path(reader, "en", settings) + "?lang=en"  # the page in English
    answer = client.post(path, data={"csrf_token": csrf_of(client.get(path).text)})
    assert answer.status_code == 200 and "do not receive the weekly digest" in answer.text
    assert "From the next issue on" not in answer.text and _lang(session, reader) == "en"
