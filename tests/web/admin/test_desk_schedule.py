"""Scheduling on the desk: times in the zone they were chosen in, any IANA zone, one edition
unscheduled alone, refusals in the page's language, editions listed ko, en, both."""

import html
import re

from .conftest import csrf_of


def _schedule(client, page_lang="en", **form):
    token = csrf_of(client.get("/admin/issues/1").text)
    return client.post(
        f"/admin/issues/1/schedule?lang={page_lang}", data={"csrf_token": token, **form}
    )


def test_a_time_is_shown_in_the_zone_it_was_chosen_in_and_any_iana_zone_is_taken(
    admin, session, drafted
):
    assert (
        _schedule(
            admin, lang="en", date="2099-01-05", time="07:00", timezone="America/New_York"
        ).status_code
        == 303
    )
    assert (
        _schedule(
            admin, lang="ko", date="2099-01-05", time="07:00", timezone="Pacific/Auckland"
        ).status_code
        == 303
    )
    page = admin.get("/admin/issues/1?lang=en").text
    assert (
        "2099-01-05 07:00 (New York Time) · 2099-01-05 21:00 (Seoul Time)" in page
        and "2099-01-05 07:00 (Auckland Time) · 2099-01-05 03:00 (Seoul Time)" in page
    )  # in the zone it was chosen in, and where the desk is
    assert (
        'data-zone="America/New_York"' in page
        and '<script src="/admin/static/localtime.js"' in page
    )
    zones = re.findall(r'<option value="([^"]+)">', page[page.index('<datalist id="zones">') :])
    assert zones[:5] == [
        "Asia/Seoul",
        "America/New_York",
        "America/Los_Angeles",
        "Europe/London",
        "UTC",
    ]
    assert "Pacific/Auckland" in zones and len(zones) > 300
    script = admin.get("/admin/static/localtime.js")
    assert script.status_code == 200 and "resolvedOptions().timeZone" in script.text


def test_one_edition_is_unscheduled_without_clearing_the_others(admin, session, drafted):
    _schedule(admin, lang="all", date="2099-01-05", time="07:00", timezone="Asia/Seoul")
    token = csrf_of(admin.get("/admin/issues/1").text)
    assert (
        admin.post(
            "/admin/issues/1/unschedule", data={"csrf_token": token, "lang": "en"}
        ).status_code
        == 303
    )
    session.expire_all()
    times = {e.lang: e.send_at for e in drafted.editions}
    assert times["en"] is None and times["ko"] and times["both"] and drafted.status == "scheduled"
    for lang in ("ko", "both"):
        admin.post("/admin/issues/1/unschedule", data={"csrf_token": token, "lang": lang})
    session.expire_all()
    assert drafted.status == "draft" and drafted.scheduled_at is None


def test_a_time_in_the_past_or_an_unknown_zone_is_refused_in_the_pages_language(
    admin, session, drafted
):
    r = _schedule(admin, "ko", lang="all", date="2001-01-01", time="07:00", timezone="Asia/Seoul")
    text = html.unescape(r.text)
    assert r.status_code == 422 and "이미 지난 시각입니다. 앞으로의 시각을 골라 주세요." in text
    assert "mailer issue send" not in text and "in the past" not in text
    r = _schedule(admin, "en", lang="all", date="2099-01-01", time="07:00", timezone="Mars/Olympus")
    assert r.status_code == 422 and "Unknown time zone." in r.text
    r = _schedule(admin, "ko", lang="all", date="someday", time="07:00", timezone="UTC")
    assert r.status_code == 422 and "날짜와 시각을 알아볼 수 없습니다." in r.text
    session.expire_all()
    assert drafted.status == "draft"


def test_editions_are_listed_ko_en_both(admin, drafted):
    assert [e.lang for e in drafted.editions] == ["ko", "en", "both"]
    page = admin.get("/admin/issues/1?lang=ko").text
    schedule = page[page.index('id="schedule"') :]
    assert re.findall(r'data-lang="(\w+)"', schedule)[:3] == ["ko", "en", "both"]


def test_a_candidate_story_shows_both_titles_korean_first(admin, session, drafted, settings):
    from mailer.articles.models import Article
    from mailer.issues import editing

    editing.remove_story(session, drafted, drafted.stories[-1].article_id, settings=settings)
    session.commit()
    page = html.unescape(admin.get("/admin/issues/1?lang=ko").text)
    options = re.findall(r'<option value="\d+" translate="no">([^<]+)</option>', page)
    paired = [o for o in options if " / " in o]
    assert paired, options
    ko, en = paired[0].split(" / ", 1)
    assert re.search("[가-힣]", ko) and not re.search("[가-힣]", en)
    assert session.query(Article).filter(Article.title == en).one().lang == "en"


def test_the_dashboard_lists_editions_ko_en_both_and_statuses_in_lifecycle_order(
    admin, drafted, settings, runtime
):
    from mailer.delivery import facade

    facade.send_now(runtime, 1)
    page = admin.get("/admin?lang=ko").text
    stats = page[page.index("최근 발송") :]
    assert (
        stats.index("한국어판: 발송됨 4")
        < stats.index("영어판: 발송됨 3")
        < stats.index("두 언어판: 발송됨 2")
    )
    heads = re.findall(r"<th>([^<]+)</th>", page[page.index("언어별") :])
    assert heads[1:5] == ["확인 대기", "구독 중", "구독 해지", "합계"]
