"""The archive as a reader sees it: headlines per language, one date, newest first, a feed per
language, and a web copy with a footer of its own and no reader's link."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from xml.etree import ElementTree as ET

import pytest

from mailer.issues.models import Edition, Issue
from mailer.issues.states import IssueStatus

ATOM = "{http://www.w3.org/2005/Atom}"


def _sent(session, number: int, day: date, subjects: dict[str, str]) -> None:
    started = datetime(day.year, day.month, day.day, 21, tzinfo=UTC)
    issue = Issue(
        number=number,
        status=IssueStatus.SENT,
        window_start=started,
        window_end=started,
        started_at=started,
    )
    session.add(issue)
    session.flush()
    for lang, subject in subjects.items():
        session.add(
            Edition(
                issue_id=issue.id,
                lang=lang,
                subject=subject,
                html=f"<html><body><p>{subject}</p></body></html>",
                text=subject,
                dated=day,
                started_at=started,
            )
        )
    session.commit()


@pytest.fixture
def two_issues(session):
    _sent(session, 7, date(2026, 3, 2), {"both": "둘 · Both 7", "en": "Seven <&>", "ko": "칠호"})
    _sent(session, 8, date(2026, 3, 9), {"en": "Eight", "ko": "팔호"})


def test_each_issue_has_its_headlines_and_one_date_newest_first(client, two_issues):
    page = client.get("/archive?lang=en").text
    assert page.index("Eight") < page.index("Seven &lt;&amp;&gt;")  # newest first, escaped
    seventh = page[page.index("Issue #7") :]
    assert seventh.index("칠호") < seventh.index("Seven") < seventh.index("Both 7")  # ko, en, both
    assert page.count("March 2, 2026") == 1 and "2026-03-02</time>" not in page
    assert page.count('<time datetime="2026-03-02">') == 1
    korean = client.get("/archive?lang=ko").text
    assert "2026년 3월 9일" in korean and 'href="/archive/ko.atom"' in korean


@pytest.mark.parametrize(
    ("lang", "titles"), [("en", ["Eight", "Seven <&>"]), ("ko", ["팔호", "칠호"])]
)
def test_the_atom_feed_parses_and_lists_newest_first(client, two_issues, settings, lang, titles):
    answer = client.get(f"/archive/{lang}.atom")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(answer.content)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id") == f"{settings.public_base}/archive/{lang}.atom"
    assert feed.findtext(f"{ATOM}updated") == "2026-03-09T21:00:00Z"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == titles
    for entry, number in zip(entries, (8, 7), strict=True):
        url = f"{settings.public_base}/archive/{number}/{lang}"
        assert entry.findtext(f"{ATOM}id") == url
        assert entry.find(f"{ATOM}link").get("href") == url
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry.findtext(f"{ATOM}updated"))


def test_an_empty_feed_is_still_valid_and_an_unknown_one_is_not_found(client):
    feed = ET.fromstring(client.get("/archive/en.atom").content)
    assert feed.findtext(f"{ATOM}updated") and feed.findall(f"{ATOM}entry") == []
    assert client.get("/archive/both.atom").status_code == 404


def test_a_feed_refuses_a_link_that_is_not_http():
    from mailer.web import atom

    with pytest.raises(ValueError):
        atom.feed("javascript:alert(1)", "en", "x", [])


def test_the_web_copy_has_its_own_footer_and_no_readers_link(client, drafted, runtime):
    from mailer.delivery.facade import send_now

    send_now(runtime, 1)
    base = runtime.settings.public_base
    for lang, others in (("ko", ("en", "both")), ("en", ("ko", "both")), ("both", ("ko", "en"))):
        html = client.get(f"/archive/1/{lang}").text
        assert "<!--mail-only-->" not in html
        assert f'/archive/1/{lang}"' not in html  # no "view in browser" pointing at itself
        assert "View in browser" not in html and "웹에서 보기" not in html
        assert "/preferences" not in html and "/unsubscribe" not in html
        assert "%" + "unsubscribe_url" not in html and "%" + "preferences_url" not in html
        assert f'href="{base}/subscribe?lang=' in html and f'href="{base}/archive?lang=' in html
        for other in others:
            assert f'href="{base}/archive/1/{other}"' in html
