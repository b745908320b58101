"""The sign-up form's CSRF token is bound to the browser that fetched the form (a pre-session cookie)
and lasts two hours: a token lifted from our page, or kept for a day, signs nobody up."""

import time

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy import select

from subscribers.models import Subscriber
from tests.web.conftest import csrf_of


def _post(client, token: str, page_lang: str = "en"):
    return client.post(
        f"/subscribe?lang={page_lang}",
        data={"email": "bound@example.com", "lang": "en", "csrf_token": token},
    )


def _nobody_signed_up(session, outbox) -> bool:
    return session.scalar(select(Subscriber)) is None and outbox.messages() == []


def test_the_form_sets_a_private_pre_session_cookie(client):
    from mailer.web import csrf

    form = client.get("/subscribe?lang=en")
    [cookie] = [
        c for c in form.headers.get_list("set-cookie") if c.startswith(csrf.PRE_SESSION_COOKIE)
    ]
    assert cookie.startswith(f"{csrf.PRE_SESSION_COOKIE}=")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "secure", "path=/"} <= attributes
    assert "max-age=7200" in attributes
    value = client.cookies[csrf.PRE_SESSION_COOKIE]
    assert value not in form.text  # the page carries a token bound to it, never the value itself
    # a second look at the form keeps the browser's pre-session (and sets it again, for as long)
    again = client.get("/subscribe?lang=ko").headers.get_list("set-cookie")
    assert any(c.startswith(f"{csrf.PRE_SESSION_COOKIE}={value};") for c in again)


@pytest.mark.parametrize("page_lang, message", [("en", "The form expired"), ("ko", "만료")])
def test_a_token_without_its_cookie_is_refused_in_the_pages_language(
    client, session, outbox, page_lang, message
):
    token = csrf_of(client.get(f"/subscribe?lang={page_lang}").text)
    client.cookies.clear()  # the token lifted out of the page, posted from elsewhere
    refused = _post(client, token, page_lang)
    assert refused.status_code == 400 and message in refused.text
    assert 'name="csrf_token"' in refused.text  # the form again, with a cookie to submit it with
    assert _nobody_signed_up(session, outbox)
    assert _post(client, csrf_of(refused.text), page_lang).status_code == 200


def test_a_token_from_another_browsers_form_is_refused(client, session, outbox):
    mine = csrf_of(client.get("/subscribe?lang=en").text)
    other = TestClient(client.app, base_url="https://testserver")
    other.get("/subscribe?lang=en")  # a pre-session of its own
    assert _post(other, mine).status_code == 400
    assert _nobody_signed_up(session, outbox)


def test_a_token_from_before_the_cookie_was_forged_is_refused(client, session, outbox):
    from mailer.web import csrf

    client.get("/subscribe?lang=en")
    forged = "A" * 43
    client.cookies.set(csrf.PRE_SESSION_COOKIE, forged, domain="testserver")
    token = csrf.issue(client.app.state.runtime.settings, csrf.SUBSCRIBE, "")  # bound to nothing
    assert _post(client, token).status_code == 400
    assert _nobody_signed_up(session, outbox)


def test_a_token_lasts_two_hours_not_a_day(client, session, outbox, monkeypatch):
    def fetched_ago(seconds: int) -> str:
        with monkeypatch.context() as m:
            m.setattr(TimestampSigner, "get_timestamp", lambda _s: int(time.time()) - seconds)
            return csrf_of(client.get("/subscribe?lang=en").text)

    assert _post(client, fetched_ago(2 * 3600 + 60)).status_code == 400
    assert _nobody_signed_up(session, outbox)
    assert _post(client, fetched_ago(2 * 3600 - 60)).status_code == 200
