"""The preference centre over HTTP: language, unsubscribe, resubscribe; CSRF; bad requests change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from subscribers import changes, service, tokens
from subscribers.models import Change, Status
from tests.web.conftest import csrf_of, tamper


@pytest.fixture
def reader(session):
    sub, _ = service.add(session, "reader@example.com", "ko", confirmed=True)
    session.commit()
    return sub


def _url(sub, settings) -> str:
    return f"/preferences/{tokens.make_token(tokens.PREFERENCES, sub.id, settings)}"


def _now(session, sub):
    session.expire_all()
    return service.get(session, sub.id)


def _post(client, url, **data):
    form = client.get(url)
    return client.post(url, data={"csrf_token": csrf_of(form.text), **data})


def test_the_page_speaks_the_readers_language_not_their_editions(client, reader, settings):
    """A Korean reader of the English edition reads Korean pages, and the other way round."""
    page = client.get(_url(reader, settings), headers={"Accept-Language": "en"})
    assert page.status_code == 200 and '<html lang="en">' in page.text  # the browser's
    assert "reader@example.com" in page.text and "in Korean" in page.text
    assert 'value="ko" checked' in page.text  # the edition they get is still Korean


def test_changing_the_edition_keeps_the_page_language(client, session, reader, settings):
    client.headers["Accept-Language"] = "ko-KR,ko"
    response = _post(client, _url(reader, settings), action="lang", lang="en")
    assert response.status_code == 200
    assert '<html lang="ko">' in response.text and "언어를 저장했습니다" in response.text
    assert 'value="en" checked' in response.text
    assert _now(session, reader).lang == "en"
    change = session.scalar(select(Change).where(Change.action == "language changed"))
    assert (
        changes.english(change.detail) == "ko -> en"
        and change.source == "preferences"
        and change.ip == "testclient"
    )


def test_the_switch_keeps_the_page_and_is_remembered(client, reader, settings):
    url = _url(reader, settings)
    korean = client.get(url, headers={"Accept-Language": "ko"})
    assert f'href="{url}?lang=en"' in korean.text  # the same page, token and all
    english = client.get(url + "?lang=en", headers={"Accept-Language": "ko"})
    assert '<html lang="en">' in english.text
    cookie = english.headers["set-cookie"]
    assert cookie.startswith("mailer_lang=en;") and "Max-Age=31536000" in cookie
    assert "Path=/" in cookie and "samesite=lax" in cookie.lower()
    again = client.get(url, headers={"Accept-Language": "ko"})  # the cookie, not the browser
    assert '<html lang="en">' in again.text and f'href="{url}?lang=ko"' in again.text
    assert '<html lang="en">' in client.get("/subscribe").text  # every page


def test_unsubscribe_and_resubscribe(client, session, reader, settings):
    url = _url(reader, settings)
    gone = _post(client, url, action="unsubscribe")
    assert (
        gone.status_code == 200
        and "구독이 취소되었습니다" in gone.text
        and "다시 구독" in gone.text
    )
    assert _now(session, reader).status == Status.UNSUBSCRIBED
    back = _post(client, url, action="resubscribe")
    assert back.status_code == 200 and "다시 구독하셨습니다" in back.text
    sub = _now(session, reader)
    assert (
        sub.status == Status.ACTIVE
        and sub.unsubscribed_at is None
        and sub.consent_source == "preferences"
    )


def test_a_bounced_address_cannot_be_resubscribed(client, session, reader, settings):
    service.unsubscribe(session, reader.id)
    service.mark_suppressed(session, reader.id, Status.BOUNCED)
    session.commit()
    page = client.get(_url(reader, settings))
    assert "반송되었거나" in page.text and 'value="resubscribe"' not in page.text
    refused = client.post(
        _url(reader, settings), data={"csrf_token": csrf_of(page.text), "action": "resubscribe"}
    )
    assert refused.status_code == 409 and "다시 구독할 수 없습니다" in refused.text
    assert _now(session, reader).status == Status.BOUNCED


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"action": "lang", "lang": "fr"}, 400, "받아 보실 언어를 골라 주세요"),
        ({"action": "delete-everything"}, 400, "요청을 처리할 수 없습니다"),
        ({"action": "unsubscribe", "csrf_token": "forged"}, 400, "양식이 만료되었습니다"),
        ({"action": "unsubscribe", "csrf_token": ""}, 400, "양식이 만료되었습니다"),
    ],
    ids=["bad-language", "unknown-action", "forged-csrf", "no-csrf"],
)
def test_a_bad_request_says_why_and_changes_nothing(
    client, session, reader, data, status, message, settings
):
    form = client.get(_url(reader, settings))
    response = client.post(_url(reader, settings), data={"csrf_token": csrf_of(form.text), **data})
    assert response.status_code == status and message in response.text
    sub = _now(session, reader)
    assert sub.status == Status.ACTIVE and sub.lang == "ko"


def test_a_csrf_token_is_good_for_its_own_subscriber_only(client, session, reader, settings):
    other, _ = service.add(session, "other@example.com", "en", confirmed=True)
    session.commit()
    foreign = csrf_of(client.get(_url(other, settings)).text)
    response = client.post(
        _url(reader, settings), data={"csrf_token": foreign, "action": "unsubscribe"}
    )
    assert response.status_code == 400 and _now(session, reader).status == Status.ACTIVE


def test_a_bad_or_wrong_purpose_link_is_refused(client, session, reader, settings):
    for token in (
        "garbage",
        tokens.make_token(tokens.UNSUBSCRIBE, reader.id, settings),
        tamper(tokens.make_token(tokens.PREFERENCES, reader.id, settings)),
    ):
        for response in (
            client.get(f"/preferences/{token}"),
            client.post(f"/preferences/{token}", data={"action": "unsubscribe"}),
        ):
            assert response.status_code == 400 and "This link is not valid" in response.text
    assert _now(session, reader).status == Status.ACTIVE


def test_a_bilingual_reader_reads_their_browsers_language_and_may_switch(client, session, settings):
    sub, _ = service.add(session, "both@example.com", "both", confirmed=True)
    session.commit()
    assert (
        '<html lang="en">'
        in client.get(_url(sub, settings), headers={"Accept-Language": "en"}).text
    )
    assert '<html lang="ko">' in client.get(_url(sub, settings)).text  # no preference: Korean
    assert '<html lang="en">' in client.get(_url(sub, settings) + "?lang=en").text


def test_a_pending_subscriber_confirms_only_through_the_confirmation_mail(
    client, session, settings
):
    """The confirmation mail carries a preferences link too; saving there, or posting `resubscribe`, or
    unsubscribing and then resubscribing, never makes an unconfirmed address active."""
    sub, _ = service.add(session, "pending@example.com", "ko")
    session.commit()
    url = _url(sub, settings)
    assert _post(client, url, action="lang", lang="en").status_code == 200
    assert _now(session, sub).status == Status.PENDING
    refused = _post(client, url, action="resubscribe")
    assert refused.status_code == 409 and _now(session, sub).status == Status.PENDING
    assert _post(client, url, action="unsubscribe").status_code == 200
    page = client.get(url).text
    assert 'value="resubscribe"' not in page
    refused = _post(client, url, action="resubscribe")
    assert refused.status_code == 409
    now = _now(session, sub)
    assert now.status == Status.UNSUBSCRIBED and now.confirmed_at is None
    assert "resubscribed" not in [
        c.action for c in session.scalars(select(Change).where(Change.subscriber_id == sub.id))
    ]
