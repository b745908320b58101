"""The welcome mail: one outbox row written with the first confirmation, sent like the confirmation,
in the reader's edition, saying when the next issue comes and how to change language or leave."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from pathlib import Path

from sqlalchemy import select

from mailer.mail import transactional
from mailer.mail.models import MailKind, MailStatus, OutboxMail
from subscribers import service, tokens
from subscribers.models import Status
from tests.web.conftest import sign_up


def _welcomes(settings, to: str | None = None) -> list:
    paths = sorted(
        (Path(settings.outbox_dir) / "welcome").rglob("*.eml"), key=lambda p: int(p.stem)
    )
    found = [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in paths]
    return [m for m in found if to is None or m["To"] == to]


def _rows(runtime, kind: MailKind) -> list[OutboxMail]:
    with runtime.sessions() as s:
        return list(s.scalars(select(OutboxMail).where(OutboxMail.kind == kind.value)))


def test_confirming_writes_one_welcome_that_goes_out_in_the_readers_edition(
    client, outbox, runtime, settings
):
    sign_up(client, "reader@example.com", "en", page_lang="ko")
    assert _rows(runtime, MailKind.WELCOME) == []  # nothing before the confirmation
    client.post(outbox.link(outbox.messages()[0]))

    [row] = _rows(runtime, MailKind.WELCOME)
    assert row.status == MailStatus.SENT and row.lang == "en"
    [mail] = _welcomes(settings)
    assert mail["To"] == "reader@example.com"
    assert mail["Subject"] == "Welcome to The Seoul Ledger Weekly"
    assert mail["List-Unsubscribe"].startswith("<https://news.example.com/unsubscribe/")
    text = mail.get_body(("plain",)).get_content()
    assert re.search(r"Your next issue comes on \w+day, .+ \d{4} .+\.", text)
    assert "latest issue" not in text  # none sent yet
    assert '<html lang="en"' in mail.get_body(("html",)).get_content()
    preferences = re.search(r"https://news\.example\.com(/preferences/[\w.-]+)", text).group(1)
    page = client.get(preferences)
    assert page.status_code == 200 and "reader@example.com" in page.text


def test_confirming_twice_welcomes_once(client, outbox, runtime, settings):
    sign_up(client, "twice@example.com", "ko")
    link = outbox.link(outbox.messages()[0])
    assert client.post(link).status_code == 200
    assert client.post(link).status_code == 200
    assert len(_rows(runtime, MailKind.WELCOME)) == 1
    [mail] = _welcomes(settings)
    assert mail["Subject"] == "서울 레저 주간 브리핑 구독을 환영합니다"
    assert "다음 호는" in mail.get_body(("plain",)).get_content()


def test_both_editions_welcome_in_korean_with_english_below(client, outbox, settings):
    sign_up(client, "both@example.com", "both")
    client.post(outbox.link(outbox.messages()[0]))
    [mail] = _welcomes(settings)
    text = mail.get_body(("plain",)).get_content()
    assert text.index("다음 호는") < text.index("Your next issue comes on")


def test_a_suppressed_reader_is_not_welcomed(client, session, outbox, runtime, settings):
    sub, _ = service.add(session, "complained@example.com", "ko")
    session.commit()
    link = tokens.link(tokens.CONFIRM, sub.id, settings, lang="ko").removeprefix(
        "https://news.example.com"
    )
    with runtime.sessions() as s:
        service.get(s, sub.id).status = Status.COMPLAINED
        s.commit()
    assert client.post(link).status_code == 400
    assert _rows(runtime, MailKind.WELCOME) == [] and _welcomes(settings) == []


def test_a_reader_erased_before_the_welcome_goes_gets_none(session, runtime, settings):
    sub, _ = service.add(session, "gone@example.com", "ko", confirmed=True)
    mail_id = transactional.record(session, sub.id, "ko", kind=MailKind.WELCOME)
    service.erase(session, "gone@example.com")
    session.commit()
    assert transactional.run_send_mail(runtime, mail_id) == "skipped"
    assert _welcomes(settings) == []


def test_the_latest_issue_is_linked_in_the_readers_edition_when_there_is_one(
    client, session, outbox, settings
):
    from datetime import date

    from tests.web.test_archive_listing import _sent

    _sent(session, 7, date(2026, 3, 2), {"ko": "칠호", "en": "Seven"})
    _sent(session, 8, date(2026, 3, 9), {"ko": "팔호"})  # no English edition of the newest
    sign_up(client, "latest@example.com", "en")
    client.post(outbox.link(outbox.messages()[0]))
    [mail] = _welcomes(settings)
    text = mail.get_body(("plain",)).get_content()
    url = re.search(r"Read the latest issue: https://news\.example\.com(\S+)", text).group(1)
    assert url == "/archive/8/ko"  # the newest issue, in an edition it has
    assert client.get(url).status_code == 200
