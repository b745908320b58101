"""The newsletter's home, its name on every page, and the page an unknown address gets."""

from __future__ import annotations

import pytest

from subscribers import tokens


def test_the_home_page_is_the_newsletter_in_the_readers_language(client, drafted, runtime):
    from mailer.delivery.facade import send_now

    send_now(runtime, 1)
    ko = client.get("/", headers={"Accept-Language": "ko"})
    assert ko.status_code == 200 and ko.headers["content-type"].startswith("text/html")
    assert '<html lang="ko">' in ko.text and "서울 레저" in ko.text
    assert '<form method="post" action="/subscribe' in ko.text and 'name="csrf_token"' in ko.text
    assert 'href="/archive/1/ko"' in ko.text and 'href="/archive"' in ko.text  # latest, archive
    en = client.get("/", headers={"Accept-Language": "en-US"})
    assert '<html lang="en">' in en.text and "<h1>The Seoul Ledger</h1>" in en.text
    assert 'href="/?lang=ko"' in en.text  # the switch


@pytest.mark.parametrize("path", ["/", "/subscribe", "/archive", "/no/such/page"])
def test_every_public_page_names_the_publication(client, path):
    ko = client.get(path, headers={"Accept-Language": "ko"}).text
    assert "· 서울 레저</title>" in ko and '<a class="brand" href="/">서울 레저</a>' in ko
    en = client.get(path, headers={"Accept-Language": "en"}).text
    assert "· The Seoul Ledger</title>" in en


def test_the_name_follows_the_from_name_settings(make_runtime):
    from fastapi.testclient import TestClient

    from mailer.web.app import create_app

    runtime = make_runtime(from_name_en="Han River Post", from_name_ko="한강 포스트")
    client = TestClient(create_app(runtime), base_url="https://testserver")
    assert "· Han River Post</title>" in client.get("/?lang=en").text
    assert "· 한강 포스트</title>" in client.get("/?lang=ko").text


def test_an_unknown_address_gets_a_page_in_the_readers_language(client):
    ko = client.get("/nothing-here", headers={"Accept-Language": "ko"})
    assert ko.status_code == 404 and ko.headers["content-type"].startswith("text/html")
    assert '<html lang="ko">' in ko.text and "페이지를 찾을 수 없습니다" in ko.text
    en = client.get("/nothing-here?lang=en")
    assert en.status_code == 404 and "Page not found" in en.text


@pytest.mark.parametrize(
    "path", ["/admin/no-such-page", "/webhooks/other", "/metrics/x", "/healthz/x"]
)
def test_machines_and_the_desk_keep_their_json_404(client, path):
    answer = client.get(path)
    assert answer.status_code == 404 and answer.json() == {"detail": "Not Found"}


def test_check_your_inbox_offers_a_resend_and_another_address(client, outbox):
    from mailer.web.ratelimit import MAILS_PER_ADDRESS

    from .conftest import sign_up

    sent = sign_up(client, "again@example.com", "en", page_lang="en")
    assert "Wrong address?" in sent.text and 'href="/subscribe"' in sent.text
    assert 'value="again@example.com"' in sent.text and 'name="lang" value="en"' in sent.text
    for _ in range(MAILS_PER_ADDRESS.burst + 2):  # press "send again" on each answer
        form = {
            "email": "again@example.com",
            "lang": "en",
            "csrf_token": sent.text.split('name="csrf_token" value="')[1].split('"')[0],
        }
        sent = client.post("/subscribe?lang=en", data=form)
        assert sent.status_code == 200 and "Check your inbox" in sent.text
    # the same limit as a sign-up: the address gets only so many mails
    assert len(outbox.messages("again@example.com")) == MAILS_PER_ADDRESS.burst


def test_the_confirmed_page_says_when_the_next_issue_comes(client, outbox, make_runtime):
    from .conftest import sign_up

    sign_up(client, "next@example.com", "en", page_lang="en")
    [mail] = outbox.messages()
    page = client.post(outbox.link(mail)).text
    # the schedule's slot (Monday 06:00 Asia/Seoul by default), said in the page's language
    assert "The next issue comes on Monday, " in page and "6:00" in page
    assert "Korean Standard Time" in page
    korean = client.get(outbox.link(mail) + "?lang=ko").text
    assert "다음 호는 " in korean and "월요일 오전 6:00 한국 표준시" in korean


def test_the_preferences_switch_keeps_its_token(client, session, settings):
    from subscribers import service

    sub, _ = service.add(session, "t@example.com", "en", confirmed=True)
    session.commit()
    url = f"/preferences/{tokens.make_token(tokens.PREFERENCES, sub.id, settings)}"
    page = client.get(url, headers={"Accept-Language": "ko"})
    assert '<html lang="ko">' in page.text and f'href="{url}?lang=en"' in page.text
