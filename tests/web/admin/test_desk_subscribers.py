"""The desk's subscriber pages: subscribers filtered and paged with a total, one subscriber's
history and changes (each asked first), the bounce and complaint list, and an import that names its
bad rows by line."""

import html
import re

from sqlalchemy import select

from subscribers import service
from subscribers.models import Change, Subscriber

from .conftest import csrf_of


def _emails(page: str) -> list[str]:
    return re.findall(
        r'<tr class="subscriber"><td><a href="/admin/subscribers/\d+">([^<]+)</a>', page
    )


def test_filters_by_text_status_and_language_with_a_total_and_pages_of_50(admin, session):
    for i in range(120):
        service.add(session, f"reader{i:03}@example.com", "ko" if i % 2 else "en", confirmed=True)
    service.add(session, "later@example.com", "ko")
    session.commit()
    first = admin.get("/admin/subscribers?ui=en").text
    assert len(_emails(first)) == 50 and "121 in all" in first and "page 1 of 3" in first
    third = admin.get("/admin/subscribers?page=3&ui=en").text
    assert len(_emails(third)) == 21 and 'rel="next"' not in third and 'rel="prev"' in third
    ko = admin.get("/admin/subscribers?lang=ko&status=active&ui=en").text
    assert "60 in all" in ko and all(int(e[6:9]) % 2 for e in _emails(ko))
    assert (
        'lang="ko"' in admin.get("/admin/subscribers?lang=en&ui=ko").text
    )  # ?lang= filters, ?ui= is the page's
    pending = admin.get("/admin/subscribers?status=pending&q=LATER&ui=en").text
    assert _emails(pending) == ["later@example.com"] and "1 in all" in pending
    assert "1,000" in admin.app.state.templates.env.filters["num"](1000)


def test_next_and_previous_links_carry_their_place_in_the_list(admin, session):
    for i in range(120):
        service.add(session, f"reader{i:03}@example.com", "ko" if i % 2 else "en", confirmed=True)
    session.commit()
    first = admin.get("/admin/subscribers?lang=ko&ui=en").text
    after = re.search(r'rel="next" href="([^"]+)"', first).group(1)
    assert "&page=2&after=" in after
    second = admin.get(html.unescape(after) + "&ui=en").text
    assert _emails(second) == _emails(admin.get("/admin/subscribers?lang=ko&page=2&ui=en").text)
    assert "page 2 of 2" in second and not set(_emails(second)) & set(_emails(first))
    back = html.unescape(re.search(r'rel="prev" href="([^"]+)"', second).group(1))
    assert _emails(admin.get(back + "&ui=en").text) == _emails(first)


def test_a_search_most_addresses_match_says_more_than_and_pages_by_its_links(
    admin, session, monkeypatch
):
    from subscribers import lookup

    monkeypatch.setattr(lookup, "COUNTED", 40)  # 120 readers match, 3 pages of 50
    for i in range(120):
        service.add(session, f"reader{i:03}@example.com", "ko" if i % 2 else "en", confirmed=True)
    session.commit()
    want = [f"reader{i:03}@example.com" for i in reversed(range(120))]  # newest first
    url, seen, numbers = "/admin/subscribers?q=example&ui=en", [], []
    while url:
        shown = admin.get(html.unescape(url) + "&ui=en").text
        assert "More than 40 match" in shown and " of " not in _total(shown)
        seen.append(_emails(shown))
        numbers.append(re.search(r"page (\d+)", _total(shown)).group(1))
        url = (re.search(r'rel="next" href="([^"]+)"', shown) or [None, None])[1]
    assert [e for p in seen for e in p] == want and [len(p) for p in seen] == [50, 50, 20]
    assert numbers == ["1", "2", "3"]
    back = html.unescape(re.search(r'rel="prev" href="([^"]+)"', shown).group(1))
    assert "&page=2&before=" in back and _emails(admin.get(back).text) == seen[1]
    ko = admin.get("/admin/subscribers?q=example&page=2&ui=ko").text
    assert "40명 넘게 찾음" in ko and "2쪽" in _total(ko) and _emails(ko) == seen[1]
    past = admin.get("/admin/subscribers?q=example&page=4&ui=en")
    assert past.status_code == 400 and "This search has no such page." in past.text
    few = admin.get("/admin/subscribers?q=reader11&ui=en").text  # reader110 to reader119
    assert "10 in all" in few and "page 1 of 1" in few and 'rel="next"' not in few


def _total(page: str) -> str:
    return re.search(r'<p id="total">(.*?)</p>', page, re.DOTALL).group(1)


def test_page_and_filter_values_are_range_checked(admin, session):
    service.add(session, "one@example.com", "ko", confirmed=True)
    session.commit()
    for bad in ("0", "2", "-1", "x", "99999999999999999999"):
        r = admin.get(f"/admin/subscribers?page={bad}&ui=en")
        assert r.status_code == 400 and "A page number is between 1 and 1." in r.text, bad
    r = admin.get("/admin/subscribers?status=gone&ui=ko")
    assert r.status_code == 400 and "상태나 언어 값이 올바르지 않습니다." in r.text


def test_the_bounce_and_complaint_list(admin, session):
    a, _ = service.add(session, "bounced@example.com", "ko", confirmed=True)
    b, _ = service.add(session, "complained@example.com", "en", confirmed=True)
    service.add(session, "fine@example.com", "en", confirmed=True)
    service.mark_suppressed(session, a.id, "bounced")
    service.mark_suppressed(session, b.id, "complained")
    session.commit()
    page = admin.get("/admin/subscribers?status=suppressed&ui=ko").text
    assert sorted(_emails(page)) == ["bounced@example.com", "complained@example.com"]
    assert "반송 차단" in page and "스팸 신고 차단" in page and "bounced</td>" not in page


def _change(client, sub_id, **data):
    token = csrf_of(client.get(f"/admin/subscribers/{sub_id}").text)
    return client.post(
        f"/admin/subscribers/{sub_id}/change?lang=ko", data={"csrf_token": token, **data}
    )


def test_a_subscriber_page_shows_history_and_each_change_is_asked_first(admin, session):
    sub, _ = service.add(session, "mi@example.com", "ko", confirmed=True)
    session.commit()
    page = admin.get(f"/admin/subscribers/{sub.id}?lang=ko").text
    assert "변경 기록" in page and "추가" in page and "구독 중" in page
    ask = _change(admin, sub.id, action="lang", lang="en")
    assert (
        ask.status_code == 200
        and "mi@example.com의 언어를 영어판(으)로 바꿉니다." in html.unescape(ask.text)
    )
    session.expire_all()
    assert sub.lang == "ko"
    assert _change(admin, sub.id, action="lang", lang="en", confirm="yes").status_code == 303
    assert _change(admin, sub.id, action="unsubscribe", confirm="yes").status_code == 303
    session.expire_all()
    assert (sub.lang, sub.status) == ("en", "unsubscribed")
    changes = session.scalars(
        select(Change).where(Change.subscriber_id == sub.id).order_by(Change.id)
    ).all()
    assert [(c.action, c.source, c.ip) for c in changes[-2:]] == [
        ("language changed", "desk", "testclient"),
        ("unsubscribed", "desk", "testclient"),
    ]
    page = admin.get(f"/admin/subscribers/{sub.id}?lang=ko").text
    assert "언어 변경" in page and "편집 데스크" in page and "한국어판 -&gt; 영어판" in page
    assert 'value="resubscribe"' in page
    assert _change(admin, sub.id, action="resubscribe", confirm="yes").status_code == 303
    session.expire_all()
    assert sub.status == "active"


def test_a_bounce_is_never_resubscribed_from_the_desk(admin, session):
    sub, _ = service.add(session, "gone@example.com", "en", confirmed=True)
    service.mark_suppressed(session, sub.id, "bounced")
    session.commit()
    page = admin.get(f"/admin/subscribers/{sub.id}?lang=en").text
    assert 'value="resubscribe"' not in page and "cannot be resubscribed" in page
    r = _change(admin, sub.id, action="resubscribe", confirm="yes")
    assert r.status_code == 409 and "이 구독자의 지금 상태로는 할 수 없는 변경입니다." in r.text
    session.expire_all()
    assert sub.status == "bounced"


def test_erase_asks_first_then_erases(admin, session):
    sub, _ = service.add(session, "erase-me@example.com", "en", confirmed=True)
    session.commit()
    sub_id = sub.id
    ask = _change(admin, sub_id, action="erase")
    assert ask.status_code == 200 and "되돌릴 수 없으며" in ask.text
    assert session.scalar(select(Subscriber).where(Subscriber.email == "erase-me@example.com"))
    assert _change(admin, sub_id, action="erase", confirm="yes").status_code == 303
    session.expunge_all()
    assert (
        session.scalar(select(Subscriber).where(Subscriber.email == "erase-me@example.com")) is None
    )
    assert admin.get(f"/admin/subscribers/{sub_id}").status_code == 404


def test_the_import_names_its_bad_rows_by_line_and_takes_the_documented_statuses(admin, session):
    token = csrf_of(admin.get("/admin/subscribers").text)
    body = (
        b"email,lang,status\nok@example.com,ko,active\nun@example.com,en,unsubscribed\n"
        b"pe@example.com,both,pending\nwrong@example.com,ko,subscribed\n,en,\nx@example.com,fr,\n"
    )
    posted = admin.post(
        "/admin/subscribers/import?ui=ko",
        data={"csrf_token": token, "mode": "confirmed", "consent": "the book fair sheet"},
        files={"file": ("s.csv", body, "text/csv")},
    )
    assert posted.status_code == 303  # to the import's own page
    r = admin.get(posted.headers["location"])
    page = html.unescape(r.text)
    assert r.status_code == 200 and "3명 추가" in page and "3행 오류" in page
    assert "완료" in page and 'value="100"' in page and "http-equiv" not in page  # over: no reload
    assert "5행: status 값 'subscribed'은(는) 쓸 수 없습니다" in page
    assert "6행: 이메일 주소가 비어 있습니다." in page and "7행: lang 값 'fr'" in page
    assert service.get_by_email(session, "un@example.com").status == "unsubscribed"


def test_an_editor_is_kept_out_of_the_subscribers(anonymous, session):
    from mailer.web.admin.accounts import create_user

    from .conftest import PASSWORD, log_in

    create_user(session, "jun", PASSWORD, role="editor")
    session.commit()
    log_in(anonymous, "jun")
    r = anonymous.get("/admin/subscribers?ui=ko")
    assert r.status_code == 403 and "관리자만 할 수 있는 일입니다." in r.text
    assert anonymous.get("/admin/subscribers/export.csv").status_code == 403


def test_an_address_that_never_confirmed_is_not_resubscribed_from_the_desk(admin, session):
    sub, _ = service.add(session, "never@example.com", "en")
    service.unsubscribe(session, sub.id)
    session.commit()
    page = admin.get(f"/admin/subscribers/{sub.id}?lang=en").text
    assert 'value="resubscribe"' not in page
    r = _change(admin, sub.id, action="resubscribe", confirm="yes")
    assert r.status_code in (400, 409)
    session.expire_all()
    assert sub.status == "unsubscribed" and sub.confirmed_at is None


def test_every_page_holds_the_rows_the_order_puts_there_read_from_either_end(session):
    from datetime import timedelta

    from mailer.db import utcnow
    from tests.factories import search_page

    start = utcnow()
    for i in range(23):
        sub, _ = service.add(session, f"r{i:02}@example.com", "ko" if i % 3 else "en")
        sub.created_at = start + timedelta(minutes=i // 4)  # ties: the id decides among them
    session.commit()
    everyone = session.scalars(
        select(Subscriber).order_by(Subscriber.created_at.desc(), Subscriber.id.desc())
    ).all()
    for page in range(
        1, 6
    ):  # pages of the newer half from the newest end, the rest from the oldest
        rows, total = search_page(session, page=page, per_page=5)
        assert total == 23 and rows == list(everyone[(page - 1) * 5 : page * 5]), page
    assert search_page(session, page=6, per_page=5) == ([], 23)
    ones = [s for s in everyone if s.email.startswith("r1")]  # r10 to r19: a search's two pages
    assert search_page(session, "R1", page=2, per_page=5) == (ones[5:], 10)
    assert search_page(session, "r1", page=3, per_page=5) == ([], 10)
    pages = [everyone[i : i + 5] for i in range(0, 23, 5)]
    for n in range(1, 5):  # the next and previous links' cursors read the same pages
        assert search_page(session, per_page=5, after=pages[n - 1][-1].id)[0] == list(pages[n])
        assert search_page(session, per_page=5, before=pages[n][0].id)[0] == list(pages[n - 1])
    ko = [s for s in everyone if s.lang == "ko"]
    for page in range(1, 5):
        rows, total = search_page(session, lang="ko", page=page, per_page=4)
        assert total == len(ko) and rows == ko[(page - 1) * 4 : page * 4], page


def test_a_subscriber_page_shows_the_newest_deliveries_and_events(admin, session, monkeypatch):
    from mailer.delivery.models import Delivery
    from mailer.events.models import WebhookEvent
    from mailer.issues.models import Edition, Issue
    from mailer.web.admin import subscriber_pages

    monkeypatch.setattr(subscriber_pages, "DELIVERIES_SHOWN", 2)
    monkeypatch.setattr(subscriber_pages, "EVENTS_SHOWN", 3)
    sub, _ = service.add(session, "mi@example.com", "en", confirmed=True)
    now = sub.created_at
    for n in (1, 2, 3):
        issue = Issue(number=n, status="sent", window_start=now, window_end=now, started_at=now)
        session.add(issue)
        session.flush()
        edition = Edition(issue_id=issue.id, lang="en", subject=f"Issue {n}")
        session.add(edition)
        session.flush()
        session.add(
            Delivery(
                issue_id=issue.id, edition_id=edition.id, subscriber_id=sub.id, email=sub.email
            )
        )
    for i, kind in enumerate(("processed", "delivered", "open", "click")):
        # the provider's case is not the list's: the address is matched whatever its case
        session.add(
            WebhookEvent(sg_event_id=f"e{i}", event=kind, email="Mi@Example.com", payload={})
        )
    session.commit()
    page = admin.get(f"/admin/subscribers/{sub.id}?ui=en").text
    issues = re.findall(r'<a href="/admin/issues/(\d+)">', page)
    assert issues == ["2", "3"] and page.count("The newest 2 are shown.") == 1
    events = re.search(r'<table id="events">(.*?)</table>', page, re.DOTALL).group(1)
    assert events.count("<td>") == 6 and "The newest 3 are shown." in page
    assert ">processed<" not in events and ">clicked<" in events
