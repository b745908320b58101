"""The desk's search: every page of a search holds the rows the list's order puts there, read by its
number or by the next and previous links' anchors, and a search that most addresses match is counted
only up to lookup.COUNTED."""

from datetime import timedelta

import pytest

from mailer.db import utcnow
from subscribers import lookup
from subscribers.models import SUPPRESSED, Status, Subscriber
from tests.factories import search_page

STATUSES = (Status.ACTIVE, Status.ACTIVE, Status.PENDING, Status.BOUNCED, Status.UNSUBSCRIBED)
SEARCHES = ("example", "READER1", "r2", "7@", "nobody")
FILTERS = ((None, None), ("active", None), (None, "ko"), ("suppressed", "en"))


@pytest.fixture
def readers(session):
    """300 readers, three of them joining each minute (ties in age: the id orders them), most at
    example.com and a few elsewhere, of every language and several statuses."""
    start = utcnow() - timedelta(days=1)
    for i in range(300):
        session.add(
            Subscriber(
                email=f"reader{i}@{'example.com' if i % 10 else 'mail.test'}",
                lang=("ko", "en", "both")[i % 3],
                status=STATUSES[i % 5],
                created_at=start + timedelta(minutes=(i * 7 % 300) // 3),
            )
        )
    session.commit()
    return session


def _expected(session, text, status, lang) -> list[Subscriber]:
    """What the list shows for a search, in its order, as the rule says: newest first, ties by id."""

    def kept(s):
        wanted = SUPPRESSED if status == "suppressed" else {status} if status else None
        return (
            text.strip().lower() in s.email
            and (wanted is None or s.status in wanted)
            and (lang is None or s.lang == lang)
        )

    everyone = session.query(Subscriber).all()
    return sorted(filter(kept, everyone), key=lambda s: (s.created_at, s.id), reverse=True)


@pytest.mark.parametrize("counted", [10_000, 40])
def test_every_page_of_a_search_by_number_and_by_either_link(readers, monkeypatch, counted):
    monkeypatch.setattr(lookup, "COUNTED", counted)
    per = 20
    for text in SEARCHES:
        for status, lang in FILTERS:
            want = _expected(readers, text, status, lang)
            pages = [want[i : i + per] for i in range(0, len(want), per)] or [[]]
            how = {"status": status, "lang": lang, "per_page": per}
            case = (text, status, lang)
            for n, rows in enumerate(pages, 1):
                found = lookup.find(readers, text, page=n, **how)
                assert found.rows == rows, (case, n)
                assert found.total == min(len(want), counted + 1), case
                assert found.exact == (len(want) <= counted) and found.more == (n < len(pages))
            for n in range(1, len(pages)):  # Next from page n, Previous from page n + 1
                found = lookup.find(readers, text, page=n + 1, after=pages[n - 1][-1].id, **how)
                assert found.rows == pages[n] and found.more == (n + 1 < len(pages)), (case, n)
                found = lookup.find(readers, text, page=n, before=pages[n][0].id, **how)
                assert found.rows == pages[n - 1] and found.more, (case, n)
            assert lookup.find(readers, text, page=len(pages) + 1, **how).rows == []


def test_a_search_most_addresses_match_is_counted_up_to_a_limit(readers, monkeypatch):
    monkeypatch.setattr(lookup, "COUNTED", 100)
    found = lookup.find(readers, "example")  # 270 addresses
    assert (found.total, found.exact, found.more, len(found.rows)) == (101, False, True, 50)
    few = lookup.find(readers, "mail.test")  # 30: counted whole
    assert (few.total, few.exact, few.more) == (30, True, False)
    assert search_page(readers, "example", page=7) == ([], 101)  # 6 pages of 50
    everyone = lookup.find(readers)  # the list without a search is always counted
    assert (everyone.total, everyone.exact) == (300, True)


def test_a_search_is_planned_for_its_own_fragment(readers, database_url):
    """On PostgreSQL: psycopg prepares a statement it has run five times, and a generic plan made from
    narrow fragments would then read a broad one's every match (docs/scale.md)."""
    from sqlalchemy import text

    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's plan cache")
    lookup.find(readers, "example")
    assert readers.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
