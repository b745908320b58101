"""The .eml a recipient gets: structure, encoding, headers, and a subject that survives a parser."""

import random
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from mailer.delivery.facade import send_now
from mailer.mail.message import OutgoingBatch, Recipient, to_mime
from mailer.rendering.placeholders import UNSUBSCRIBE_URL

WORDS = [
    "서울",
    "레저",
    "주간",
    "브리핑",
    "1호:",
    "서울시,",
    "내년부터",
    "심야",
    "자율주행",
    "버스",
    "—",
    "what",
    "it",
    "means",
    "won",
    "slides",
    "가",
    "한국은행,",
    "기준금리",
    "동결…",
    "“인상",
    "없다”",
    "é",
    "A&B",
    "Weekly",
    "#12:",
    "'푸드·뮤직'",
    "0.25%p",
]


def _batch(subject: str) -> OutgoingBatch:
    rcpt = Recipient(
        1,
        "a@example.com",
        {UNSUBSCRIBE_URL: "https://x.example/u/1"},
        {"List-Unsubscribe": "<https://x.example/u/1>"},
        {},
    )
    return OutgoingBatch(
        "ko",
        "news@example.com",
        "서울 레저",
        subject,
        "<p>u</p>",
        "text",
        [rcpt],
        batch_id=1,
        issue_number=1,
    )


def _subject_lines(raw: bytes) -> list[str]:
    """The Subject header's lines on the wire: "Subject: ..." and its continuation lines."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii").split("\r\n")
    start = next(i for i, line in enumerate(head) if line.startswith("Subject: "))
    end = next(
        (i for i in range(start + 1, len(head)) if not head[i].startswith((" ", "\t"))), len(head)
    )
    return head[start:end]


def _parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


@pytest.mark.slow  # 500 random subjects through a standards parser
def test_subjects_come_back_unchanged_from_a_standards_parser():
    rng = random.Random(20261128)
    subjects = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 30))) for _ in range(500)]
    subjects.append(
        "The Seoul Ledger Weekly #3: Bank of Korea holds rates as won slides — what it means"
    )
    for subject in subjects:
        assert _parse(to_mime(_batch(subject), _batch(subject).recipients[0]))["Subject"] == subject


@pytest.fixture
def sent(session, ingested, subscribers_by_lang, settings, runtime):
    from mailer.db import utcnow
    from mailer.issues.service import draft_issue

    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    send_now(runtime, issue.number)
    return {e.lang: e for e in issue.editions}


def test_each_eml_is_a_proper_multipart_message_in_the_readers_language(sent, settings):
    outbox = Path(settings.outbox_dir) / "issue-1"
    seen = set()
    for lang in ("ko", "en", "both"):
        for path in sorted((outbox / lang).glob("*.eml")):
            msg = _parse(path.read_bytes())
            seen.add(msg["To"])
            assert msg.get_content_type() == "multipart/alternative"
            text, html = msg.get_payload()
            assert (
                text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
            )
            assert text.get_content_charset() == html.get_content_charset() == "utf-8"
            assert msg["Subject"] == sent[lang].subject
            assert msg["From"].addresses[0].display_name == (
                settings.from_name_en if lang == "en" else settings.from_name_ko
            )
            unsubscribe = msg["List-Unsubscribe"]
            assert unsubscribe.startswith(
                "<https://news.example.com/unsubscribe/"
            ) and unsubscribe.endswith(">")
            assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            body = html.get_content()
            assert f'<html lang="{"en" if lang == "en" else "ko"}"' in body
            # the per-recipient link is filled in, and it is the same link as the header's
            assert "%unsubscribe_url%" not in body and "%preferences_url%" not in text.get_content()
            assert unsubscribe[1:-1] in body and unsubscribe[1:-1] in text.get_content()
    assert len(seen) == 9  # nine recipients, nine different messages


def test_korean_edition_subject_is_korean(sent):
    assert "주간 브리핑" in sent["ko"].subject
    assert sent["en"].subject.startswith("The Seoul Ledger Weekly No. 1: ")


def test_every_edition_carries_list_id_feedback_id_reply_to_and_a_real_date_zone(
    session, ingested, subscribers_by_lang, monkeypatch, runtime
):
    from mailer.db import utcnow
    from mailer.issues.service import draft_issue
    from mailer.mail.sendgrid import build_payload
    from mailer.standin import validate

    settings = runtime.settings
    monkeypatch.setattr(settings, "reply_to", "desk@news.example.com")
    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    send_now(runtime, issue.number)
    for lang in ("ko", "en", "both"):
        [path, *_] = sorted((Path(settings.outbox_dir) / "issue-1" / lang).glob("*.eml"))
        raw = path.read_bytes()
        msg = _parse(raw)
        assert (
            msg["List-Id"] == "<weekly.news.example.com>"
        )  # from the public URL when MAILER_LIST_ID is unset
        assert msg["Feedback-ID"] == f"issue-1:{lang}:news.example.com"
        assert msg["Reply-To"] == "desk@news.example.com"
        assert msg["Date"].endswith("+0000")
        lines = _subject_lines(raw)
        assert len(lines) > 1 and max(map(len, lines)) <= 78
    # the same headers go to SendGrid once per request, and SendGrid accepts them
    from mailer.delivery.content import outgoing  # the message as the send path builds it
    from mailer.delivery.models import Batch

    batch = session.query(Batch).first()
    edition = next(e for e in issue.editions if e.id == batch.edition_id)
    payload = build_payload(outgoing(batch, issue, edition, [], settings))
    assert payload["headers"]["List-Id"] == "<weekly.news.example.com>"
    assert payload["headers"]["Feedback-ID"] == f"issue-1:{edition.lang}:news.example.com"
    assert payload["reply_to"] == {"email": "desk@news.example.com"}
    payload["personalizations"] = [{"to": [{"email": "a@example.com"}]}]
    assert validate(payload) == []


def test_list_id_comes_from_its_setting(settings):
    chosen = settings.model_copy(update={"list_id": "weekly.news.example.org"})
    assert chosen.list_id_header == "<weekly.news.example.org>"
    batch = OutgoingBatch.compose(
        chosen,
        "ko",
        subject="s",
        html="h",
        text="t",
        recipients=[],
        folder="confirm",
    )
    assert batch.headers == {
        "List-Id": "<weekly.news.example.org>",
        "Feedback-ID": "confirm:ko:news.example.com",
    }


def test_long_ascii_and_korean_subjects_fold_within_78_columns_and_round_trip():
    for subject in (
        "The Seoul Ledger Weekly No. 12: "
        + ("Bank of Korea holds rates as won slides " * 3).strip(),
        "서울 레저 주간 브리핑 제12호: " + ("한국은행, 기준금리 동결… “인상 없다” " * 4).strip(),
    ):
        raw = to_mime(_batch(subject), _batch(subject).recipients[0])
        lines = _subject_lines(raw)
        assert len(lines) > 1 and max(map(len, lines)) <= 78
        assert _parse(raw)["Subject"] == subject


def test_every_subject_line_on_the_wire_fits_78_columns():
    rng = random.Random(14)
    for _ in range(300):
        subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 30)))
        assert (
            max(map(len, _subject_lines(to_mime(_batch(subject), _batch(subject).recipients[0]))))
            <= 78
        )


def test_the_outbox_writes_unicode_addresses_as_addresses_not_one_encoded_word(tmp_path):
    """Before, a non-ASCII To or Reply-To was set as plain text, which became one RFC 2047 encoded-word
    holding the whole address: a parser read no address in it ("local part with no domain")."""
    from dataclasses import replace
    from email.parser import Parser

    from mailer.mail.senders import OutboxSender

    addresses = {  # what a subscriber's address may be -> its addr-spec in the file
        "홍길동@example.com": "홍길동@example.com",  # SMTPUTF8: no ASCII form, so UTF-8 (RFC 6532)
        "user@bücher.de": "user@xn--bcher-kva.de",  # an IDN domain: its ASCII form
        "hong@example.com": "hong@example.com",
    }
    batch = replace(
        _batch("주간 브리핑"),
        reply_to="홍길동 <hong@example.com>",
        recipients=[Recipient(i, email, {}, {}, {}) for i, email in enumerate(addresses, start=1)],
    )
    OutboxSender(tmp_path).send(batch)
    for delivery_id, addr_spec in enumerate(addresses.values(), start=1):
        raw = OutboxSender(tmp_path).path_for(batch, delivery_id).read_bytes()
        to_line = next(line for line in raw.split(b"\r\n") if line.startswith(b"To: "))
        assert b"=?" not in to_line, to_line
        message = Parser(policy=policy.default).parsestr(raw.decode("utf-8"))
        [to] = message["To"].addresses
        assert to.addr_spec == addr_spec and not [
            d for d in message["To"].defects if "non-ASCII" not in str(d)
        ]
        [reply_to] = message["Reply-To"].addresses
        assert (reply_to.display_name, reply_to.addr_spec) == ("홍길동", "hong@example.com")
        [sender] = message["From"].addresses
        assert (sender.display_name, sender.addr_spec) == (batch.from_name, batch.from_email)
        assert raw.isascii() == addr_spec.isascii()  # 7-bit unless the address has no ASCII form
