"""No sending by accident, and only admins send or cancel."""

import html

import pytest
from sqlalchemy import func, select

from mailer.issues import reasons

from .conftest import PASSWORD, csrf_of, log_in


def _actions(html: str) -> list[str]:
    import re

    block = html[html.index('id="issue-actions"') :]
    block = block[: block.index("</div>")]
    return re.findall(r'name="action" value="(\w+)"', block)


def _post(client, action, **extra):
    token = csrf_of(client.get("/admin/issues/1").text)
    return client.post(
        "/admin/issues/1/action", data={"csrf_token": token, "action": action, **extra}
    )


def test_only_the_actions_that_make_sense_in_the_state_are_shown(admin, session, drafted):
    assert _actions(admin.get("/admin/issues/1").text) == ["send"]
    assert _post(admin, "send", confirm="yes").status_code == 303
    session.expire_all()
    assert drafted.status == "sent"
    page = admin.get("/admin/issues/1?lang=ko").text
    assert _actions(page) == [] and "할 수 있는 발송 동작이 없습니다" in page


def test_send_now_asks_first_naming_the_recipients_then_sends(admin, session, drafted):
    from mailer.delivery.models import Delivery

    first = _post(admin, "send")
    assert first.status_code == 200
    assert (
        "9명에게 보냅니다"
        in admin.post(
            "/admin/issues/1/action?lang=ko",
            data={"csrf_token": csrf_of(first.text), "action": "send"},
        ).text
    )
    assert 'name="confirm" value="yes"' in first.text and "9 people" in first.text
    session.expire_all()
    assert (
        drafted.status == "draft"
        and session.scalar(select(func.count()).select_from(Delivery)) == 0
    )
    session.rollback()  # a read left open would hold the ledger while the send makes its partition
    assert _post(admin, "send", confirm="yes").status_code == 303
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Delivery)) == 9


@pytest.mark.slow  # adds 1,441 subscribers
def test_recipient_counts_are_formatted(session, drafted):
    from mailer.web.admin.pages import number
    from mailer.web.admin.send_pages import recipients
    from subscribers import service

    for i in range(1445 - 4):
        service.add(session, f"many{i}@example.com", "ko", confirmed=True)
    session.commit()
    reach = recipients(session, drafted, "send")
    assert reach[0] == ("ko", 1445) and number(1445) == "1,445"


def test_cancel_asks_first_and_a_pause_records_who_and_why(
    admin, session, drafted, monkeypatch, runtime
):
    # stays sending: nothing is run
    monkeypatch.setattr(runtime.tasks, "send_batches", lambda ids, countdown=0.0: None)
    assert _post(admin, "send", confirm="yes").status_code == 303
    session.expire_all()
    assert drafted.status == "sending"
    assert _actions(admin.get("/admin/issues/1").text) == ["pause", "cancel"]
    assert _post(admin, "pause", reason="wrong headline").status_code == 303
    session.expire_all()
    assert (
        drafted.status == "paused"
        and reasons.english(drafted.status_reason) == "paused by mina: wrong headline"
    )
    assert (
        "mina 님이 일시 중지했습니다. 사유: wrong headline"
        in admin.get("/admin/issues/1?lang=ko").text
    )
    assert _actions(admin.get("/admin/issues/1").text) == ["resume", "cancel"]
    ask = _post(admin, "cancel")
    assert (
        ask.status_code == 200
        and "9명"
        in admin.post(
            "/admin/issues/1/action?lang=ko",
            data={"csrf_token": csrf_of(ask.text), "action": "cancel"},
        ).text
    )
    session.expire_all()
    assert drafted.status == "paused"
    assert _post(admin, "cancel", confirm="yes").status_code == 303
    session.expire_all()
    assert drafted.status == "cancelled"


def test_a_refusal_is_a_sentence_in_the_pages_language_not_an_exception(admin, session, drafted):
    assert _post(admin, "send", confirm="yes").status_code == 303
    token = csrf_of(admin.get("/admin/issues/1").text)
    ko = admin.post("/admin/issues/1/action?lang=ko", data={"csrf_token": token, "action": "pause"})
    assert ko.status_code == 409
    assert "제1호는 지금 '발송 완료' 상태라서 일시 중지할 수 없습니다." in html.unescape(ko.text)
    assert "cannot become" not in ko.text
    en = admin.post(
        "/admin/issues/1/action?lang=en",
        data={"csrf_token": token, "action": "send", "confirm": "yes"},
    )
    assert en.status_code == 409 and "Issue #1 is Sent, so you cannot send it now." in en.text


def test_an_editor_may_pause_but_not_send_or_cancel(anonymous, session, drafted):
    from mailer.web.admin.accounts import create_user

    create_user(session, "jun", PASSWORD, role="editor")
    session.commit()
    assert log_in(anonymous, "jun").status_code == 303
    assert _actions(anonymous.get("/admin/issues/1").text) == []
    refused = _post(anonymous, "send", confirm="yes")
    assert (
        refused.status_code == 403
        and "Only an admin"
        in anonymous.post(
            "/admin/issues/1/action?lang=en",
            data={"csrf_token": csrf_of(refused.text), "action": "send"},
        ).text
    )
    session.expire_all()
    assert drafted.status == "draft"


def test_editing_and_test_send_refusals_are_sentences_too(admin, session, drafted):
    token = csrf_of(admin.get("/admin/issues/1").text)
    bad = admin.post(
        "/admin/issues/1/test?lang=ko", data={"csrf_token": token, "lang": "ko", "to": "nope"}
    )
    assert (
        bad.status_code == 422
        and "받는 주소 가운데 올바르지 않은 이메일 주소가 있습니다." in bad.text
    )
    assert _post(admin, "send", confirm="yes").status_code == 303
    story = drafted.stories[0].article_id
    r = admin.post(
        "/admin/issues/1/stories?lang=ko",
        data={"csrf_token": token, "action": "remove", "article_id": story},
    )
    assert r.status_code == 422
    assert "제1호는 지금 '발송 완료' 상태라서 고칠 수 없습니다." in html.unescape(r.text)
    assert "only drafts" not in r.text


def test_the_confirmation_pages_language_switch_leads_back_to_the_issue(admin, drafted):
    ask = _post(admin, "send")
    assert 'href="/admin/issues/1?lang=ko"' in ask.text  # not the POST-only action URL


def test_an_editor_schedules_and_sends_tests(anonymous, session, drafted):
    from mailer.web.admin.accounts import create_user

    create_user(session, "jun", PASSWORD, role="editor")
    session.commit()
    log_in(anonymous, "jun")
    token = csrf_of(anonymous.get("/admin/issues/1").text)
    assert (
        anonymous.post(
            "/admin/issues/1/schedule",
            data={
                "csrf_token": token,
                "lang": "all",
                "date": "2099-01-05",
                "time": "07:00",
                "timezone": "UTC",
            },
        ).status_code
        == 303
    )
    assert (
        anonymous.post(
            "/admin/issues/1/test",
            data={"csrf_token": token, "lang": "ko", "to": "ed@news.example.com"},
        ).status_code
        == 303
    )
    session.expire_all()
    assert drafted.status == "scheduled"
