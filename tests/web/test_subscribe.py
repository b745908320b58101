"""Sign-up over HTTP: the form, double opt-in by email, confirmation, no enumeration, rate limits."""

from __future__ import annotations

import re
import time
from unittest.mock import patch

import pytest
from sqlalchemy import select

from subscribers import lookup, service, tokens
from subscribers.models import Change, Status, Subscriber
from tests.web.conftest import csrf_of, sign_up, tamper


def _fresh(runtime, email):
    with runtime.sessions() as s:  # what another connection sees: only what was committed
        return service.get_by_email(s, email)


def test_the_form_speaks_the_browsers_language_unless_switched(client):
    ko = client.get("/subscribe", headers={"Accept-Language": "ko-KR,ko;q=0.9,en-US;q=0.8"})
    assert ko.status_code == 200 and '<html lang="ko">' in ko.text and "주간 브리핑 구독" in ko.text
    assert 'href="/subscribe?lang=en"' in ko.text  # the switch
    en = client.get("/subscribe", headers={"Accept-Language": "en-GB,en;q=0.9,ko;q=0.5"})
    assert '<html lang="en">' in en.text and "Subscribe to the weekly digest" in en.text
    switched = client.get("/subscribe?lang=en", headers={"Accept-Language": "ko"})
    assert '<html lang="en">' in switched.text
    assert '<html lang="en">' in client.get("/subscribe").text  # the switch is remembered
    assert (
        'name="csrf_token"' in ko.text and 'name="email"' in ko.text and 'value="both"' in ko.text
    )


def test_double_opt_in_from_form_to_confirmed_in_the_chosen_language(
    client, session, outbox, runtime
):
    page = sign_up(client, "Min.Ji@Example.com", "en", page_lang="ko")
    assert page.status_code == 200 and "메일함을 확인해 주세요" in page.text
    sub = _fresh(runtime, "min.ji@example.com")
    assert (
        sub.status == Status.PENDING
        and sub.consent_source == "web"
        and sub.consent_ip == "testclient"
    )

    [mail] = outbox.messages()
    assert mail["To"] == "min.ji@example.com"
    assert (
        mail["Subject"] == "Confirm your subscription to The Seoul Ledger Weekly"
    )  # the chosen language
    assert '<html lang="en"' in mail.get_body(("html",)).get_content()
    assert "List-Unsubscribe" not in mail  # not a newsletter: nothing to unsubscribe from yet

    asked = client.get(outbox.link(mail))  # a mail scanner's prefetch too: it must change nothing
    # the pages stay in the reader's Korean, whatever edition they chose
    assert asked.status_code == 200 and "주간 브리핑 구독을 확인하시겠습니까?" in asked.text
    assert f'<form method="post" action="{outbox.link(mail)}">' in asked.text
    assert _fresh(runtime, "min.ji@example.com").status == Status.PENDING
    confirmed = client.post(outbox.link(mail))
    assert confirmed.status_code == 200 and "구독이 확인되었습니다" in confirmed.text
    assert "영어로 보내드립니다" in confirmed.text and "/preferences/" in confirmed.text
    sub = _fresh(runtime, "min.ji@example.com")
    assert sub.status == Status.ACTIVE and sub.lang == "en" and sub.confirmed_at is not None
    assert "구독이 확인되었습니다" in client.get(outbox.link(mail)).text  # following it again
    assert client.post(outbox.link(mail)).status_code == 200  # and pressing again is harmless
    assert _fresh(runtime, "min.ji@example.com").status == Status.ACTIVE


def test_a_korean_sign_up_gets_a_korean_mail_and_page(client, outbox):
    sign_up(client, "jiwoo@example.com", "ko", page_lang="ko")
    [mail] = outbox.messages()
    assert (
        mail["Subject"] == "서울 레저 주간 브리핑 구독을 확인해 주세요"
    )  # round-trips through a parser
    html = mail.get_body(("html",)).get_content()
    assert '<html lang="ko"' in html and "word-break:keep-all" in html and "구독 확인" in html
    assert "주간 브리핑 구독을 확인하시겠습니까?" in client.get(outbox.link(mail)).text
    page = client.post(outbox.link(mail))
    assert '<html lang="ko">' in page.text and "구독이 확인되었습니다" in page.text


def test_asking_again_resends_and_either_link_confirms(client, outbox, runtime):
    sign_up(client, "again@example.com", "ko")
    sign_up(client, "again@example.com", "both")
    first, second = outbox.messages("again@example.com")
    assert "·" in second["Subject"]  # the bilingual mail, as asked the second time
    assert client.post(outbox.link(second)).status_code == 200
    assert _fresh(runtime, "again@example.com").lang == "both"
    # The other link still answers, and changes nothing now: the language is the preference centre's.
    assert client.post(outbox.link(first)).status_code == 200
    assert _fresh(runtime, "again@example.com").lang == "both"


def _without_token(page: str) -> str:
    """A page without its resend form's token, which carries the time it was made."""
    return re.sub(r'name="csrf_token" value="[^"]*"', "TOKEN", page)


def _answer(client, email, lang="ko"):
    response = sign_up(client, email, lang)
    return response.status_code, _without_token(response.text.replace(email, "EMAIL"))


def test_a_known_address_is_answered_exactly_as_a_new_one(client, session, outbox, runtime):
    service.add(session, "active@example.com", "ko", confirmed=True)
    gone, _ = service.add(session, "gone@example.com", "ko", confirmed=True)
    service.unsubscribe(session, gone.id)
    complained, _ = service.add(session, "complained@example.com", "ko", confirmed=True)
    service.mark_suppressed(session, complained.id, Status.COMPLAINED)
    session.commit()

    new = _answer(client, "new@example.com")
    for known in (
        "active@example.com",
        "gone@example.com",
        "complained@example.com",
        "new@example.com",
    ):
        assert _answer(client, known) == new
    # The owner of the active address learns of it; the complained address gets nothing (a hard bounce is asked to confirm: tests/web/test_rejoin_after_bounce.py).
    [already] = outbox.messages("active@example.com")
    assert (
        "이미" in already["Subject"]
        and "/preferences/" in already.get_body(("plain",)).get_content()
    )
    assert outbox.messages("complained@example.com") == []
    assert _fresh(runtime, "active@example.com").status == Status.ACTIVE
    assert (
        _fresh(runtime, "gone@example.com").status == Status.UNSUBSCRIBED
    )  # unchanged until its owner confirms
    assert _fresh(runtime, "complained@example.com").status == Status.COMPLAINED


def test_an_unsubscribed_reader_comes_back_only_by_confirming(client, session, outbox, runtime):
    sub, _ = service.add(session, "back@example.com", "ko", confirmed=True)
    service.unsubscribe(session, sub.id)
    session.commit()
    sign_up(client, "back@example.com", "en")
    assert _fresh(runtime, "back@example.com").status == Status.UNSUBSCRIBED
    client.post(outbox.link(outbox.messages()[0]))
    again = _fresh(runtime, "back@example.com")
    assert again.status == Status.ACTIVE and again.lang == "en" and again.consent_source == "web"


@pytest.mark.slow  # waits 1.1 s: tokens carry whole seconds
def test_a_confirmation_link_from_before_an_unsubscribe_does_not_resubscribe(
    client, session, outbox, runtime
):
    sign_up(client, "scanner@example.com", "ko")
    link = outbox.link(outbox.messages()[0])
    assert client.post(link).status_code == 200
    time.sleep(1.1)  # tokens carry whole seconds
    with runtime.sessions() as s:
        service.unsubscribe(s, service.get_by_email(s, "scanner@example.com").id)
        s.commit()
    scanned = client.get(
        link
    )  # a mail scanner re-visiting the old mail: no button, nothing changed
    assert scanned.status_code == 400 and "This link is not valid" in scanned.text
    replayed = client.post(link)  # nor does posting to it
    assert replayed.status_code == 400 and "This link is not valid" in replayed.text
    assert _fresh(runtime, "scanner@example.com").status == Status.UNSUBSCRIBED


def test_an_expired_or_tampered_confirmation_link_is_refused_in_both_languages(
    client, session, outbox, runtime, settings
):
    sign_up(client, "late@example.com", "ko")
    link = outbox.link(outbox.messages()[0])
    with patch("time.time", return_value=time.time() + tokens.CONFIRM_MAX_AGE + 60):
        late = client.get(link)
    assert late.status_code == 400
    assert "링크가 올바르지 않습니다" in late.text and "This link is not valid" in late.text
    assert (
        client.get(tamper(link)).status_code == 400 and client.post(tamper(link)).status_code == 400
    )
    sub_id = _fresh(runtime, "late@example.com").id
    wrong_purpose = tokens.make_token(tokens.UNSUBSCRIBE, sub_id, settings)
    assert client.get(f"/confirm/{wrong_purpose}").status_code == 400
    assert _fresh(runtime, "late@example.com").status == Status.PENDING


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-address", "lang": "ko"}, "올바른 이메일 주소를 입력해 주세요"),
        ({"email": "a@example.com", "lang": "fr"}, "받아 보실 언어를 골라 주세요"),
        ({"email": "", "lang": "ko"}, "올바른 이메일 주소를 입력해 주세요"),
    ],
    ids=["bad-address", "bad-language", "empty"],
)
def test_bad_input_is_explained_in_the_users_language_and_changes_nothing(
    client, session, outbox, data, message
):
    form = client.get("/subscribe?lang=ko")
    response = client.post("/subscribe?lang=ko", data={**data, "csrf_token": csrf_of(form.text)})
    assert response.status_code == 400 and message in response.text
    assert 'name="csrf_token"' in response.text  # the form again, ready to fix
    assert session.scalar(select(Subscriber)) is None and outbox.messages() == []


def test_a_form_without_a_valid_csrf_token_changes_nothing(client, session, outbox, settings):
    for token in (None, "forged", "ImEi.ZZZZ.bad"):
        data = {"email": "csrf@example.com", "lang": "en"} | (
            {"csrf_token": token} if token else {}
        )
        response = client.post("/subscribe?lang=en", data=data)
        assert response.status_code == 400 and "The form expired" in response.text
        assert 'value="csrf@example.com"' in response.text
    from mailer.web import csrf

    other_form = csrf.issue(settings, csrf.PREFERENCES, "")  # a token for another form
    assert (
        client.post(
            "/subscribe", data={"email": "csrf@example.com", "lang": "en", "csrf_token": other_form}
        ).status_code
        == 400
    )
    assert session.scalar(select(Subscriber)) is None and outbox.messages() == []


def test_sign_ups_are_rate_limited_per_ip(client, session, runtime):
    from mailer.web.ratelimit import SIGNUPS_PER_IP

    for i in range(SIGNUPS_PER_IP.burst):
        assert sign_up(client, f"r{i}@example.com", "ko").status_code == 200
    refused = sign_up(client, "one-too-many@example.com", "ko", page_lang="en")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "Please try again later" in refused.text
    assert _fresh(runtime, "one-too-many@example.com") is None


def test_one_address_gets_a_few_mails_however_often_it_is_asked(client, outbox):
    from mailer.web.ratelimit import MAILS_PER_ADDRESS

    answers = {
        _without_token(sign_up(client, "victim@example.com", "ko").text)
        for _ in range(MAILS_PER_ADDRESS.burst + 3)
    }
    assert len(answers) == 1  # the requester sees no difference (but the resend form's fresh token)
    assert len(outbox.messages("victim@example.com")) == MAILS_PER_ADDRESS.burst


def test_an_erased_address_can_come_back_only_through_its_owners_confirmation(
    client, session, outbox, runtime
):
    from mailer.events import privacy

    service.add(session, "erased@example.com", "ko", confirmed=True)
    privacy.erase(session, "erased@example.com")
    session.commit()
    sign_up(client, "erased@example.com", "en")
    with runtime.sessions() as s:
        assert (
            lookup.suppression_reason(s, "erased@example.com") == "erased"
        )  # still, until confirmed
    client.post(outbox.link(outbox.messages()[0]))
    with runtime.sessions() as s:
        assert lookup.suppression_reason(s, "erased@example.com") is None
        assert service.get_by_email(s, "erased@example.com").status == Status.ACTIVE


def test_sign_up_history_records_the_request_and_the_confirmation(client, session, outbox, runtime):
    sign_up(client, "history@example.com", "both")
    client.post(outbox.link(outbox.messages()[0]))
    sub = _fresh(runtime, "history@example.com")
    actions = [
        c.action
        for c in session.scalars(
            select(Change).where(Change.subscriber_id == sub.id).order_by(Change.id)
        )
    ]
    assert actions == ["sign-up requested", "confirmed"]


def test_with_a_broker_the_mail_is_queued_after_the_sign_up_is_committed(
    session, monkeypatch, outbox, make_runtime, redis_url
):
    import redis
    from fastapi.testclient import TestClient

    from mailer.mail.models import OutboxMail
    from mailer.web.app import create_app

    redis.Redis.from_url(redis_url).flushdb()  # no sign-up counted by an earlier run
    runtime = make_runtime(broker_url=redis_url)
    client = TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)
    queued = []

    def send_task(name, args, queue, **_options):
        with runtime.sessions() as s:  # the row is committed before the task can look for it
            mail = s.get(OutboxMail, args[0])
            queued.append((name, queue, service.get(s, mail.subscriber_id).email, mail.lang))

    monkeypatch.setattr(runtime.tasks.celery, "send_task", send_task)
    assert sign_up(client, "queued@example.com", "en").status_code == 200
    assert (
        queued == [("mailer.send_mail", "mail", "queued@example.com", "en")]
        and outbox.messages() == []
    )


def test_the_sent_page_states_how_long_the_link_lasts(client, outbox, monkeypatch):
    monkeypatch.setattr(tokens, "CONFIRM_MAX_AGE_DAYS", 3)
    assert (
        "It is valid for 3 days" in sign_up(client, "three@example.com", "en", page_lang="en").text
    )
    assert (
        "링크는 3일 동안 유효하며" in sign_up(client, "sam@example.com", "ko", page_lang="ko").text
    )
