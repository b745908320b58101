"""Readers who stopped reading: counted from the webhook's events (a machine's open is no reader's),
asked once after MAILER_SUNSET_ISSUES unread issues, paused without an answer, back with one click."""

from __future__ import annotations

import re
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlalchemy import select, update

from mailer.db import utcnow
from mailer.delivery.models import Delivery
from mailer.events import unread
from mailer.events.apply import apply_pending
from mailer.events.store import store
from mailer.events.sunset_task import run_sunset
from mailer.issues.models import Issue
from mailer.mail.models import MailKind, MailStatus, OutboxMail
from subscribers import service, sunset
from subscribers.models import Change, Status

ISSUES = range(1, 21)
BASE = 1000  # the fake issues' ids and numbers: clear of any issue a fixture drafts


@pytest.fixture
def reader(session):
    sub, _ = service.add(session, "quiet@example.com", "ko", confirmed=True)
    session.commit()
    return sub


@pytest.fixture
def ledger(session, reader):
    """Twenty sent issues and the reader's delivery of each (the ledger holds no foreign keys)."""
    now = utcnow()
    session.add_all(
        Issue(
            id=BASE + n,
            number=BASE + n,
            status="sent",
            window_start=now,
            window_end=now,
            started_at=now,
        )
        for n in ISSUES
    )
    rows = {
        n: Delivery(issue_id=BASE + n, edition_id=n, subscriber_id=reader.id, email=reader.email)
        for n in ISSUES
    }
    session.add_all(rows.values())
    session.commit()
    return rows


def _event(kind, delivery, n=0, **extra):
    return {
        "event": kind,
        "email": delivery.email,
        "timestamp": 1800000000 + delivery.issue_id * 600 + n,
        "sg_event_id": f"{kind}-{delivery.id}-{n}",
        "issue_id": str(delivery.issue_id),
        "delivery_id": str(delivery.id),
        **extra,
    }


def _apply(session, settings, events):
    store(session, events, utcnow())
    apply_pending(session, utcnow(), settings)
    session.commit()
    session.expire_all()


def _deliver(session, settings, ledger, issues, *, machine_opens=False, settle=True):
    """The issues delivered (and fetched by a machine), finished, and counted once settled."""
    events = [_event("delivered", ledger[n]) for n in issues]
    if machine_opens:  # Apple's Mail Privacy Protection fetches every image of every mail
        events += [_event("open", ledger[n], 1, sg_machine_open=True) for n in issues]
    _apply(session, settings, events)
    if settle:
        _settle(session, issues)


def _settle(session, issues):
    finished = utcnow() - unread.SETTLE
    session.execute(
        update(Issue).where(Issue.id.in_([BASE + n for n in issues])).values(finished_at=finished)
    )
    for issue_id in unread.settled_issues(session, utcnow()):
        unread.count_issue(session, issue_id, utcnow())
    session.commit()
    session.expire_all()


def _asked_mails(runtime) -> list[OutboxMail]:
    with runtime.sessions() as s:
        return list(s.scalars(select(OutboxMail).where(OutboxMail.kind == MailKind.REENGAGE)))


def _mails(settings) -> list:
    paths = sorted(
        (Path(settings.outbox_dir) / "reengage").rglob("*.eml"), key=lambda p: int(p.stem)
    )
    return [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in paths]


def _history(session, reader) -> list[tuple[str, str]]:
    rows = session.scalars(
        select(Change).where(Change.subscriber_id == reader.id).order_by(Change.id)
    )
    return [(c.action, c.source) for c in rows]


def test_twelve_unread_issues_bring_one_mail_in_the_readers_language(
    session, runtime, settings, reader, ledger
):
    _deliver(session, settings, ledger, range(1, 12))
    assert service.get(session, reader.id).unread_issues == 11
    assert run_sunset(runtime) == {"asked": 0, "paused": 0}
    _deliver(session, settings, ledger, [12])
    assert run_sunset(runtime) == {"asked": 1, "paused": 0}
    assert run_sunset(runtime) == {"asked": 0, "paused": 0}  # safe to run twice: one mail

    [row] = _asked_mails(runtime)
    assert row.status == MailStatus.SENT and row.lang == "ko"
    [mail] = _mails(settings)
    assert mail["To"] == "quiet@example.com"
    assert mail["Subject"] == "서울 레저 주간 브리핑을 계속 받으시겠어요?"
    text = mail.get_body(("plain",)).get_content()
    assert "12개 호를 열어 보지 않으셨습니다" in text and "14일 안에" in text
    assert re.search(r"https://news\.example\.com/stay/[\w.-]+", text)
    assert mail["List-Unsubscribe"].startswith("<https://news.example.com/unsubscribe/")
    assert '<html lang="ko"' in mail.get_body(("html",)).get_content()
    assert ("asked to stay", "sunset") in _history(session, reader)
    assert service.get(session, reader.id).status == Status.ACTIVE  # asked, not paused yet


def test_machine_opens_are_no_reading(session, runtime, settings, reader, ledger):
    _deliver(session, settings, ledger, range(1, 13), machine_opens=True)
    sub = service.get(session, reader.id)
    assert sub.unread_issues == 12 and sub.last_engaged_at is None
    assert run_sunset(runtime)["asked"] == 1


def test_a_human_open_or_click_starts_the_count_again(session, runtime, settings, reader, ledger):
    _deliver(session, settings, ledger, range(1, 7))
    _apply(session, settings, [_event("open", ledger[6], 1)])
    assert service.get(session, reader.id).unread_issues == 0
    _deliver(session, settings, ledger, range(7, 18))  # 11 more
    _apply(session, settings, [_event("delivered", ledger[6], 5)])  # late: counts for nothing
    unread.count_issue(session, BASE + 6, utcnow())  # and counted again: nothing more
    assert service.get(session, reader.id).unread_issues == 11
    assert run_sunset(runtime)["asked"] == 0
    _apply(session, settings, [_event("click", ledger[17], 2, url="https://news.example.com/a")])
    _deliver(session, settings, ledger, [18])
    assert service.get(session, reader.id).unread_issues == 1
    assert run_sunset(runtime)["asked"] == 0 and _asked_mails(runtime) == []


def test_reading_after_the_question_is_an_answer(session, runtime, settings, reader, ledger):
    _deliver(session, settings, ledger, range(1, 13))
    run_sunset(runtime)
    later = utcnow() + timedelta(days=sunset.ANSWER_DAYS, minutes=1)
    # reading the next issue is an answer: never paused
    _deliver(session, settings, ledger, [13])
    _apply(session, settings, [_event("open", ledger[13], 1)])
    assert service.get(session, reader.id).asked_at is None
    assert sunset.run(session, later, settings.sunset_issues).paused == []
    session.commit()
    session.expire_all()
    assert service.get(session, reader.id).status == Status.ACTIVE
    assert len(_asked_mails(runtime)) == 1


def test_no_answer_pauses_and_the_next_send_leaves_them_out(
    session, settings, drafted, reader, ledger
):
    from mailer.delivery.start import begin_send, start_editions

    _deliver(session, settings, ledger, range(1, 13))
    now = utcnow()
    assert sunset.run(session, now, 12).asked == [(reader.id, "ko")]
    assert sunset.run(session, now + timedelta(days=13), 12) == sunset.Outcome([], [])
    assert sunset.run(session, now + timedelta(days=14), 12).paused == [reader.id]
    session.commit()
    session.expire_all()
    sub = service.get(session, reader.id)
    assert sub.status == Status.PAUSED and sub.email == "quiet@example.com"  # not erased
    assert _history(session, reader)[-1] == ("paused", "sunset")
    assert sunset.run(session, now + timedelta(days=30), 12) == sunset.Outcome([], [])

    start_editions(session, drafted, begin_send(session, drafted, utcnow()), settings, utcnow())
    session.commit()
    mailed = set(
        session.scalars(
            select(Delivery.subscriber_id).where(  # the send's own rows, in its batches
                Delivery.issue_id == drafted.id, Delivery.batch_id.is_not(None)
            )
        )
    )
    assert mailed and reader.id not in mailed


def test_the_rule_is_off_at_zero(session, settings, reader, ledger):
    _deliver(session, settings, ledger, ISSUES)
    assert sunset.run(session, utcnow(), 0) == sunset.Outcome([], [])
    assert sunset.run(session, utcnow(), 20).asked == [(reader.id, "ko")]


def test_come_back_from_paused_and_twice_changes_nothing(session, settings, reader, ledger):
    _deliver(session, settings, ledger, range(1, 13))
    now = utcnow()
    sunset.run(session, now, 12)
    sunset.run(session, now + timedelta(days=15), 12)
    session.commit()
    session.expire_all()
    assert service.get(session, reader.id).status == Status.PAUSED
    assert sunset.come_back(session, reader.id, source="stay-link") == sunset.CAME_BACK
    session.commit()
    sub = service.get(session, reader.id)
    assert (sub.status, sub.asked_at, sub.unread_issues) == (Status.ACTIVE, None, 0)
    assert sunset.come_back(session, reader.id, source="stay-link") is None
    service.unsubscribe(session, reader.id)
    assert sunset.come_back(session, reader.id, source="stay-link") is None  # not theirs to undo
    assert service.get(session, reader.id).status == Status.UNSUBSCRIBED


def test_an_issue_counts_once_its_events_settled(session, settings, reader, ledger):
    _deliver(session, settings, ledger, range(1, 4), settle=False)
    assert service.get(session, reader.id).unread_issues == 0  # not as each event comes
    session.execute(
        update(Issue)
        .where(Issue.id.in_([BASE + 1, BASE + 2, BASE + 3]))
        .values(finished_at=utcnow() - timedelta(days=1))
    )
    assert unread.settled_issues(session, utcnow()) == []  # late deliveries may still come
    later = utcnow() + unread.SETTLE
    assert unread.settled_issues(session, later) == [BASE + 1, BASE + 2, BASE + 3]
    for issue_id in unread.settled_issues(session, later):
        unread.count_issue(session, issue_id, later)
    session.commit()
    session.expire_all()
    assert service.get(session, reader.id).unread_issues == 3
    assert unread.settled_issues(session, later) == []  # each issue once
