"""A refused edit carries a code and its parameters; the desk says it in the page's language, the
exception keeps its English for logs and the CLI."""

import html

import pytest

from mailer.issues.editing import MAX_SUBJECT
from mailer.issues.service import IssueError
from mailer.mail.proofs import MAX_ADDRESSES
from mailer.web.admin.errors import EDITING, editing_error

from .conftest import csrf_of


@pytest.mark.parametrize(
    ("lang", "sentence"),
    [
        ("ko", f"제목은 {MAX_SUBJECT}자를 넘을 수 없습니다."),
        ("en", f"A subject has at most {MAX_SUBJECT} characters."),
    ],
)
def test_a_too_long_subject_is_refused_with_its_limit_in_the_pages_language(
    admin, session, drafted, lang, sentence
):
    token = csrf_of(admin.get("/admin/issues/1").text)
    r = admin.post(
        f"/admin/issues/1/editions?lang={lang}",
        data={"csrf_token": token, "subject_ko": "가" * (MAX_SUBJECT + 1)},
    )
    assert r.status_code == 422
    assert sentence in html.unescape(r.text)
    assert "longer than" not in r.text  # the exception's English stays out of the page


def test_the_refusals_carry_codes_and_parameters(session, drafted, settings):
    from mailer.issues import editing

    with pytest.raises(IssueError, match="only drafts") as refused:
        drafted.status = "sent"
        editing.remove_story(session, drafted, drafted.stories[0].article_id, settings=settings)
    assert (refused.value.code, refused.value.params) == (
        "not_editable",
        {"number": drafted.number, "status": "sent"},
    )
    assert editing_error(refused.value, "ko") == (
        "제1호는 지금 '발송 완료' 상태라서 고칠 수 없습니다. 초안과 예약된 호만 고칠 수 있습니다."
    )
    assert editing_error(refused.value, "en") == (
        "Issue #1 is Sent, so it cannot be edited; only drafts and scheduled issues can."
    )
    session.rollback()


def test_every_code_reads_in_both_languages_and_an_unknown_one_says_nothing_was_kept():
    params = {
        "number": 3,
        "status": "draft",
        "max": MAX_ADDRESSES,
        "lang": "ko",
        "article_id": 9,
        "email": "a@b.example",
        "domains": "news.example.com",
        "minutes": 5,
    }
    for code in EDITING:
        for lang in ("ko", "en"):
            said = editing_error(IssueError("refused", code, **params), lang)
            assert "%(" not in said and said.strip()
    assert editing_error(IssueError("test", "test_addresses", max=20), "ko") == (
        "받는 주소를 1개에서 20개까지 적어 주세요."
    )
    for lang, sentence in (
        ("ko", "변경하지 못했습니다. 아무것도 저장되지 않았습니다."),
        ("en", "That change could not be made; nothing was saved."),
    ):
        assert editing_error(IssueError("something else"), lang) == sentence
        assert editing_error(ValueError("not ours"), lang) == sentence


@pytest.mark.parametrize(
    ("lang", "too_long", "ended"),
    [
        ("ko", "이름은 1~100자여야 합니다.", "세션 1개를 종료했습니다."),
        ("en", "A name has 1 to 100 characters.", "1 session ended."),
    ],
)
def test_account_refusals_and_counts_read_in_the_pages_language(admin, lang, too_long, ended):
    from .conftest import PASSWORD

    token = csrf_of(admin.get("/admin/editors").text)
    r = admin.post(
        f"/admin/editors?lang={lang}",
        data={
            "csrf_token": token,
            "action": "add",
            "name": "x" * 101,
            "password": PASSWORD,
            "role": "editor",
        },
    )
    assert r.status_code == 400 and too_long in html.unescape(r.text)
    page = admin.get(f"/admin/editors?lang={lang}&n=sessions_ended&ended=1").text
    assert ended in html.unescape(page)
