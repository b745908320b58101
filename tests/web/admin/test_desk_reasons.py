"""What lower layers record as a code and parameters (an issue's status reason, a bad CSV row, a history
row's detail) the desk says in the page's language, the CLI in English; a value stored before codes
(plain English) is shown as it is, and an editor's or the provider's own words as written."""

import pytest

from mailer.coded import decode, encode
from mailer.issues import reasons
from mailer.web.admin.import_pages import bad_row_reason
from mailer.web.admin.issue_view import reason_text
from mailer.web.admin.subscriber_pages import detail_text
from subscribers import changes
from subscribers.csv_import import BadRow, parse_row


def test_a_coded_value_reads_back_and_plain_text_is_not_one():
    stored = encode("paused", name="미나", why="오타", count=None)
    assert stored == '{"code":"paused","name":"미나","why":"오타"}'
    assert decode(stored).params == {"name": "미나", "why": "오타"}
    for plain in (None, "", "paused by mina", "{not json", '{"no":"code"}', "[1]"):
        assert decode(plain) is None


@pytest.mark.parametrize(
    ("stored", "ko", "en", "english"),
    [
        (
            reasons.paused("mina", "wrong headline"),
            "mina 님이 일시 중지했습니다. 사유: wrong headline",  # the editor's words as written
            "Paused by mina: wrong headline",
            "paused by mina: wrong headline",
        ),
        (
            reasons.paused("mina"),
            "mina 님이 일시 중지했습니다.",
            "Paused by mina.",
            "paused by mina",
        ),
        (
            reasons.paused(),
            "편집자가 일시 중지했습니다.",
            "Paused by an editor.",
            "paused by an editor",
        ),
        (
            reasons.cancelled(),
            "편집자가 발송을 취소했습니다.",
            "Cancelled by an editor.",
            "cancelled by an editor",
        ),
        (
            reasons.batches_failed(3),
            "발송 묶음 3개가 실패했습니다.",
            "3 batches failed.",
            "3 batch(es) failed",
        ),
        (
            reasons.batches_failed(1),
            "발송 묶음 1개가 실패했습니다.",
            "1 batch failed.",
            "1 batch(es) failed",
        ),
        (
            reasons.credentials_refused(7, "HTTP 401"),
            "SendGrid가 메일러의 인증 정보를 거부했습니다(HTTP 401).",
            "SendGrid refused the mailer's credentials (HTTP 401).",
            (
                "SendGrid refused our credentials (HTTP 401). Fix MAILER_SENDGRID_API_KEY, "
                "then run `mailer issue resume 7`."
            ),
        ),
        # written before codes: shown as it is, everywhere
        ("paused by mina: a typo", "paused by mina: a typo", "paused by mina: a typo", None),
        ("2 batch(es) failed", "2 batch(es) failed", "2 batch(es) failed", None),
    ],
)
def test_an_issue_status_reason_in_each_language(stored, ko, en, english):
    assert reason_text(stored, "ko").startswith(ko) and reason_text(stored, "en").startswith(en)
    assert reasons.english(stored) == (english or stored)
    assert reason_text(None, "ko") == "" and reasons.english(None) == ""


@pytest.mark.parametrize(
    ("raw", "ko", "en", "english"),
    [
        (
            {"email": "", "lang": "ko"},
            "이메일 주소가 비어 있습니다.",
            "The email address is empty.",
            "email is empty",
        ),
        (
            {"email": "a@example.com", "lang": "fr"},
            "lang 값 'fr'",
            "lang 'fr' is not one of ko, en, both.",
            "lang must be one of ko, en, both, not 'fr'",
        ),
        (
            {"email": "a@example.com", "lang": "ko", "status": "vip"},
            "status 값 'vip'은(는) 쓸 수 없습니다",
            "status 'vip' is not allowed; the values are: pending, active,",
            "status must be one of pending, active,",
        ),
        (
            {"email": "a@example.com", "lang": "ko", "created_at": "yesterday"},
            "created_at 값 'yesterday'은(는) ISO 8601 날짜가 아닙니다.",
            "created_at 'yesterday' is not an ISO 8601 date.",
            "created_at 'yesterday' is not an ISO 8601 date",
        ),
        (
            {"email": "nope", "lang": "ko"},
            "올바른 이메일 주소가 아닙니다.",
            "Not a valid email address.",
            "'nope' is not a valid email address",
        ),
    ],
)
def test_a_bad_csv_row_in_each_language(raw, ko, en, english):
    bad = parse_row(raw, 5)
    assert isinstance(bad, BadRow)
    assert bad_row_reason(bad, "ko").startswith(ko) and bad_row_reason(bad, "en").startswith(en)
    assert bad.reason.startswith(english)  # the CLI's line and errors file


@pytest.mark.parametrize(
    ("stored", "ko", "en", "english"),
    [
        (
            changes.moved("active", "unsubscribed"),
            "구독 중 -> 구독 해지",
            "Active -> Unsubscribed",
            "active -> unsubscribed",
        ),
        (
            changes.moved("pending", "active", "ko"),
            "확인 대기 -> 구독 중, 한국어판",
            "Pending -> Active, Korean edition",
            "pending -> active, lang ko",
        ),
        (
            changes.lang_changed("ko", "en"),
            "한국어판 -> 영어판",
            "Korean edition -> English edition",
            "ko -> en",
        ),
        (
            changes.added("active", "en"),
            "구독 중, 영어판",
            "Active, English edition",
            "active, lang en",
        ),
        (changes.requested("both"), "두 언어판", "Bilingual edition", "lang both"),
        (
            changes.provider("bounce", "550 no such user"),  # the provider's words as written
            "SendGrid 알림: 반송 (550 no such user)",
            "SendGrid reported: bounced (550 no such user)",
            "SendGrid bounce: 550 no such user",
        ),
        (
            changes.provider("spamreport"),
            "SendGrid 알림: 스팸 신고",
            "SendGrid reported: spam report",
            "SendGrid spamreport",
        ),
        # written before codes: shown as it is
        ("active -> unsubscribed", "active -> unsubscribed", "active -> unsubscribed", None),
    ],
)
def test_a_history_detail_in_each_language(stored, ko, en, english):
    assert detail_text(stored, "ko") == ko and detail_text(stored, "en") == en
    assert changes.english(stored) == (english or stored)


def test_a_provider_reason_is_cut_to_fit_the_column():
    assert len(changes.provider("bounce", "x" * 1000)) <= 200


def test_the_issue_page_says_the_reason_in_its_language_and_an_old_one_as_it_is(
    admin, session, issue
):
    issue.status_reason = reasons.batches_failed(2)
    session.commit()
    assert (
        "발송 묶음 2개가 실패했습니다." in admin.get(f"/admin/issues/{issue.number}?lang=ko").text
    )
    assert "2 batches failed." in admin.get(f"/admin/issues/{issue.number}?lang=en").text
    issue.status_reason = "paused by someone: before codes"
    session.commit()
    assert (
        "paused by someone: before codes" in admin.get(f"/admin/issues/{issue.number}?lang=ko").text
    )


def test_the_subscriber_page_says_the_history_in_its_language_and_an_old_row_as_it_is(
    admin, session
):
    from sqlalchemy import update

    from subscribers import service
    from subscribers.models import Change

    sub, _ = service.add(session, "old@example.com", "ko", confirmed=True)
    service.unsubscribe(session, sub.id, source="desk")
    session.commit()
    page = admin.get(f"/admin/subscribers/{sub.id}?lang=ko").text
    assert "구독 중, 한국어판" in page and "구독 중 -&gt; 구독 해지" in page
    session.execute(
        update(Change).where(Change.subscriber_id == sub.id).values(detail="active, lang ko")
    )
    session.commit()
    assert "active, lang ko" in admin.get(f"/admin/subscribers/{sub.id}?lang=ko").text


def test_growth_counts_an_active_addition_whether_coded_or_written_before_codes(session):
    from sqlalchemy import update

    from mailer.db import utcnow
    from subscribers import growth, service
    from subscribers.models import Change

    old, _ = service.add(session, "old@example.com", "ko", confirmed=True)
    service.add(session, "new@example.com", "ko", confirmed=True)
    service.add(session, "pending@example.com", "ko")
    session.execute(
        update(Change).where(Change.subscriber_id == old.id).values(detail="active, lang ko")
    )
    session.commit()
    week = [row for row in growth.weekly(session, utcnow(), weeks=1) if row["lang"] == "ko"]
    assert (week[0]["signups"], week[0]["confirmations"]) == (3, 2)
