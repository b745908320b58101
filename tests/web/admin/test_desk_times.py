"""Every desk time in the desk's zone (MAILER_DESK_TIMEZONE, else the digest's), the zone named in the
page's language: never a bare UTC time."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from mailer.config import Settings
from mailer.delivery.facade import send_now
from mailer.web.admin.times import in_zone, zone_name

from .conftest import log_in


class _Text(HTMLParser):
    """The words a reader sees: text outside script, style and the zone list's options."""

    HIDDEN = frozenset({"script", "style", "datalist", "option", "title"})

    def __init__(self):
        super().__init__()
        self.depth, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        self.depth += tag in self.HIDDEN

    def handle_endtag(self, tag):
        self.depth -= tag in self.HIDDEN

    def handle_data(self, data):
        if not self.depth:
            self.parts.append(data)


def seen(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(parser.parts)


def test_a_time_is_written_in_the_zone_named_in_the_page_language():
    when = datetime(2026, 12, 7, 21, 30, tzinfo=UTC)
    assert in_zone(when, "Asia/Seoul", "ko") == "2026-12-08 06:30 (서울 시간)"
    assert in_zone(when, "Asia/Seoul", "en") == "2026-12-08 06:30 (Seoul Time)"
    assert in_zone(when, "Asia/Seoul", "ko", day=True) == "2026-12-08 (서울 시간)"
    assert in_zone(when.replace(tzinfo=None), "Asia/Seoul", "en", seconds=True) == (
        "2026-12-08 06:30:00 (Seoul Time)"
    )  # a naive time is stored UTC
    assert in_zone("2026-12-07T21:30:00+00:00", "America/New_York", "ko") == (
        "2026-12-07 16:30 (뉴욕 시간)"
    )
    assert zone_name("UTC", "ko") == "협정 세계시" and zone_name("UTC", "en") == (
        "Coordinated Universal Time"
    )
    assert in_zone(None, "Asia/Seoul", "ko") == ""


def test_the_desk_zone_defaults_to_the_digest_zone_and_must_exist():
    assert Settings(digest_timezone="Europe/Paris").desk_zone == "Europe/Paris"
    assert Settings(desk_timezone="America/New_York").desk_zone == "America/New_York"
    with pytest.raises(ValidationError, match="MAILER_DESK_TIMEZONE"):
        Settings(desk_timezone="Mars/Olympus_Mons")


def test_no_korean_desk_page_shows_a_utc_time(admin, runtime, session, drafted):
    from subscribers.models import Subscriber

    send_now(runtime, drafted.number)
    reader = session.query(Subscriber).filter_by(email="ko0@example.com").one()
    pages = {
        "dashboard": "/admin?lang=ko",
        "issue": "/admin/issues/1?lang=ko",
        "report": "/admin/issues/1/report?lang=ko",
        "reports": "/admin/reports?lang=ko",
        "subscribers": "/admin/subscribers?ui=ko",
        "subscriber": f"/admin/subscribers/{reader.id}?lang=ko",
        "editors": "/admin/editors?lang=ko",
    }
    for name, url in pages.items():
        text = seen(admin.get(url).text)
        assert "UTC" not in text, (name, text[text.index("UTC") - 80 : text.index("UTC") + 20])
        assert name == "reports" or "서울 시간" in text, name  # the trend tables hold days only


def test_the_desk_shows_times_in_its_own_zone(make_runtime, session, editor, drafted):
    from mailer.web.app import create_app

    runtime = make_runtime(desk_timezone="America/New_York")
    send_now(runtime, drafted.number)
    client = TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)
    log_in(client)
    text = seen(client.get("/admin?lang=ko").text)
    assert "(뉴욕 시간)" in text and "서울 시간" not in text
