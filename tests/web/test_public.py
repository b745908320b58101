"""Health endpoints and the unsubscribe link every email carries (RFC 8058 one-click)."""

import pytest
from fastapi.testclient import TestClient

from mailer.web.app import create_app
from subscribers import service, tokens
from subscribers.models import Status


@pytest.fixture
def client(settings):
    return TestClient(create_app(), follow_redirects=False)


@pytest.fixture
def reader(session):
    sub, _ = service.add(session, "reader@example.com", "ko", confirmed=True)
    session.commit()
    return sub


def _status(session, sub):
    session.expire_all()
    return service.get_by_email(session, sub.email).status


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


def test_get_shows_a_page_and_changes_nothing(client, session, reader):
    url = f"/unsubscribe/{tokens.make_token(tokens.UNSUBSCRIBE, reader.id)}"
    page = client.get(url)
    assert page.status_code == 200
    assert '<html lang="ko">' in page.text and "구독을 취소하시겠습니까" in page.text
    assert _status(session, reader) == Status.ACTIVE  # mail scanners prefetch links


@pytest.mark.parametrize("as_multipart", [False, True], ids=["urlencoded", "multipart"])
def test_one_click_post_as_a_mailbox_provider_sends_it(client, session, reader, as_multipart):
    url = f"/unsubscribe/{tokens.make_token(tokens.UNSUBSCRIBE, reader.id)}"
    kwargs = ({"files": {"List-Unsubscribe": (None, "One-Click")}} if as_multipart
              else {"data": {"List-Unsubscribe": "One-Click"}})
    client.cookies.clear()
    for _ in range(2):  # repeated posts keep working
        response = client.post(url, **kwargs)
        assert response.status_code == 200  # never a redirect
        assert "구독이 취소되었습니다" in response.text
    assert _status(session, reader) == Status.UNSUBSCRIBED


def test_a_tampered_or_wrong_purpose_token_is_refused_in_both_languages(client, session, reader):
    good = tokens.make_token(tokens.UNSUBSCRIBE, reader.id)
    for token in (good[:-2] + "xx", tokens.make_token(tokens.PREFERENCES, reader.id), "garbage"):
        response = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 400
        assert "링크가 올바르지 않습니다" in response.text and "This link is not valid" in response.text
    assert _status(session, reader) == Status.ACTIVE


def test_security_headers(client):
    headers = client.get("/unsubscribe/garbage").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "content-security-policy" in headers
