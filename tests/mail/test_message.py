"""The .eml a recipient gets: structure, encoding, headers, and a subject that survives a parser."""

import random
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from mailer.config import get_settings
from mailer.delivery.facade import send_now
from mailer.mail.message import OutgoingBatch, Recipient, to_mime
from mailer.rendering.placeholders import UNSUBSCRIBE_URL

WORDS = ["서울", "레저", "주간", "브리핑", "1호:", "서울시,", "내년부터", "심야", "자율주행", "버스", "—", "what",
         "it", "means", "won", "slides", "가", "한국은행,", "기준금리", "동결…", "“인상", "없다”", "é", "A&B",
         "Weekly", "#12:", "'푸드·뮤직'", "0.25%p"]


def _batch(subject: str) -> OutgoingBatch:
    rcpt = Recipient(1, "a@example.com", {UNSUBSCRIBE_URL: "https://x.example/u/1"},
                     {"List-Unsubscribe": "<https://x.example/u/1>"}, {})
    return OutgoingBatch("ko", "news@example.com", "서울 레저", subject, "<p>u</p>", "text", [rcpt], batch_id=1, issue_number=1)


def _parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


def test_subjects_come_back_unchanged_from_a_standards_parser():
    rng = random.Random(20261128)
    subjects = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 30))) for _ in range(500)]
    subjects.append("The Seoul Ledger Weekly #3: Bank of Korea holds rates as won slides — what it means")
    for subject in subjects:
        assert _parse(to_mime(_batch(subject), _batch(subject).recipients[0]))["Subject"] == subject


@pytest.fixture
def sent(session, ingested, subscribers_by_lang, settings):
    from mailer.db import utcnow
    from mailer.issues.service import draft_issue

    issue = draft_issue(session, utcnow())
    session.commit()
    send_now(issue.number, get_settings())
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
            assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
            assert text.get_content_charset() == html.get_content_charset() == "utf-8"
            assert msg["Subject"] == sent[lang].subject
            assert msg["From"].addresses[0].display_name == (settings.from_name_en if lang == "en" else settings.from_name_ko)
            unsubscribe = msg["List-Unsubscribe"]
            assert unsubscribe.startswith("<https://news.example.com/unsubscribe/") and unsubscribe.endswith(">")
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
