"""The "still want this?" link: GET shows one button and changes nothing (mail scanners fetch links);
the POST keeps an asked reader and brings a paused one back; the preferences page has the same button."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from mailer.db import utcnow
from subscribers import service, sunset, tokens
from subscribers.models import Change, Status, Subscriber
from tests.web.conftest import csrf_of


def _asked(session, email="quiet@example.com", *, paused=False):
    sub, _ = service.add(session, email, "ko", confirmed=True)
    session.execute(update(Subscriber).where(Subscriber.id == sub.id).values(unread_issues=12))
    now = utcnow()
    assert sunset.run(session, now, 12).asked == [(sub.id, "ko")]
    if paused:
        assert sunset.run(session, now + timedelta(days=sunset.ANSWER_DAYS), 12).paused == [sub.id]
    session.commit()
    session.expire_all()
    return sub


def _link(sub, settings, purpose=tokens.STAY) -> str:
    return tokens.link(purpose, sub.id, settings).removeprefix("https://news.example.com")


def _last_change(session, sub) -> tuple[str, str]:
    row = session.scalars(
        select(Change).where(Change.subscriber_id == sub.id).order_by(Change.id.desc())
    ).first()
    return row.action, row.source


@pytest.mark.parametrize("paused", [False, True])
def test_the_get_shows_one_button_and_the_post_keeps_them(client, session, settings, paused):
    sub = _asked(session, paused=paused)
    link = _link(sub, settings)
    page = client.get(link + "?lang=ko")
    assert page.status_code == 200
    assert page.text.count("<button") == 1 and "네, 계속 받겠습니다" in page.text
    assert client.head(link).status_code == 200
    session.expire_all()
    before = service.get(session, sub.id)
    assert before.asked_at is not None  # a scanner's GET answered nothing
    assert before.status == (Status.PAUSED if paused else Status.ACTIVE)

    assert client.post(link, data={"csrf_token": "forged"}).status_code == 400
    session.expire_all()
    assert service.get(session, sub.id).asked_at is not None

    done = client.post(link + "?lang=ko", data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 200 and "다음 호부터 주간 브리핑을 계속 받으십니다" in done.text
    session.expire_all()
    after = service.get(session, sub.id)
    assert (after.status, after.asked_at, after.unread_issues) == (Status.ACTIVE, None, 0)
    assert _last_change(session, sub) == (
        ("came back" if paused else "still reading"),
        "stay-link",
    )
    # pressed again: nothing more happens, and nothing more is written
    count = session.scalar(select(Change.id).order_by(Change.id.desc()).limit(1))
    client.post(link, data={"csrf_token": csrf_of(page.text)})
    assert session.scalar(select(Change.id).order_by(Change.id.desc()).limit(1)) == count


def test_a_bad_link_or_another_purposes_token_is_refused(client, session, settings):
    sub = _asked(session)
    assert (
        client.get(
            _link(sub, settings, tokens.PREFERENCES).replace("/preferences/", "/stay/")
        ).status_code
        == 400
    )
    assert client.get("/stay/not-a-token").status_code == 400


def test_an_unsubscribed_reader_is_not_brought_back(client, session, settings):
    sub = _asked(session)
    service.unsubscribe(session, sub.id)
    session.commit()
    link = _link(sub, settings)
    page = client.get(link + "?lang=en")
    assert "<button" not in page.text and "preferences page" in page.text
    client.post(
        link,
        data={"csrf_token": csrf_of(client.get(_link(sub, settings, tokens.PREFERENCES)).text)},
    )
    session.expire_all()
    assert service.get(session, sub.id).status == Status.UNSUBSCRIBED


def test_the_preferences_page_brings_a_paused_reader_back(client, session, settings):
    sub = _asked(session, paused=True)
    link = _link(sub, settings, tokens.PREFERENCES)
    page = client.get(link + "?lang=ko")
    assert "구독을 일시 중지했습니다" in page.text and 'value="resume"' in page.text
    done = client.post(
        link + "?lang=ko", data={"action": "resume", "csrf_token": csrf_of(page.text)}
    )
    assert done.status_code == 200 and "다음 호부터 주간 브리핑을 계속 받으십니다" in done.text
    session.expire_all()
    assert service.get(session, sub.id).status == Status.ACTIVE
    assert _last_change(session, sub) == ("came back", "preferences")


def test_a_paused_reader_can_still_unsubscribe(client, session, settings):
    sub = _asked(session, paused=True)
    link = _link(sub, settings, tokens.UNSUBSCRIBE)
    page = client.get(link + "?lang=en")
    assert "<button" in page.text  # not "you are unsubscribed": they are not, yet
    assert client.post(link).status_code == 200
    session.expire_all()
    assert service.get(session, sub.id).status == Status.UNSUBSCRIBED
