"""Ingesting over real HTTP from a local server: formats, encodings, conditional GET and hostile servers."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailer.articles.ingest import add_feed, ingest_all
from mailer.articles.models import Article, Feed
from mailer.db import utcnow

from .conftest import Reply

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


def _fixture(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def _korean_cp949() -> bytes:
    # served as declared EUC-KR, holding a CP949-only syllable (똠) as Korean sites do
    return (FEEDS / "ko_template.xml").read_text("utf-8").encode("cp949")


def _ingest(session, settings, feed_server, routes: dict[str, tuple[Reply, str]]):
    for path, (reply, lang) in routes.items():
        add_feed(session, feed_server.add(path, reply), lang, settings)
    session.commit()
    return {r.feed_url.rsplit("/", 1)[1]: r for r in ingest_all(session, utcnow(), settings)}


def _articles(session, lang=None):
    query = select(Article).order_by(Article.id)
    return session.scalars(query.where(Article.lang == lang) if lang else query).all()


def test_english_rss2_and_korean_euckr_are_read_cleaned_deduped_and_paired(
    session, feed_server, settings
):
    results = _ingest(
        session,
        settings,
        feed_server,
        {
            "/en.xml": (
                Reply(
                    body=_fixture("en_rss2.xml"), headers={"Content-Type": "application/rss+xml"}
                ),
                "en",
            ),
            "/ko.xml": (
                Reply(
                    body=_korean_cp949(),
                    headers={"Content-Type": "application/rss+xml; charset=euc-kr"},
                ),
                "ko",
            ),
        },
    )
    assert results["en.xml"].error is None and results["ko.xml"].error is None
    en, ko = _articles(session, "en"), _articles(session, "ko")
    assert [a.title for a in en] == [
        "Port of Busan sets a container record",
        "Undated notice from the newsroom",
        "Jeju tangerine harvest starts early",
    ]  # the repeated item once
    busan = en[0]
    assert busan.url == "https://fixture.example/en/busan-record"  # utm_* stripped
    for bad in ("<script", "tracker", "<iframe", "javascript:", "onmouseover"):
        assert bad not in busan.content_html
    assert en[1].published_at is not None  # undated: the fetch time
    assert [a.title for a in ko] == [
        "부산항, 컨테이너 처리량 역대 최대",
        "제주 감귤 수확 일주일 앞당겨져",
    ]
    assert "똠양꿍" in ko[0].summary
    # paired by a link in the story (whatever its text) and by a hreflang alternate
    assert busan.pair_id == ko[0].id and ko[0].pair_id == busan.id
    assert en[2].pair_id == ko[1].id and ko[1].pair_id == en[2].id
    assert en[1].pair_id is None


def test_atom_rss1_and_rss091(session, feed_server, settings):
    results = _ingest(
        session,
        settings,
        feed_server,
        {
            "/atom.xml": (Reply(body=_fixture("atom.xml")), "ko"),
            "/rdf.xml": (Reply(body=_fixture("rss1.xml")), "en"),
            "/old.xml": (Reply(body=_fixture("rss091.xml")), "en"),
        },
    )
    assert all(r.error is None and r.new == 1 for r in results.values()), results
    titles = {a.title for a in _articles(session)}
    assert titles == {"서울 도서관 24시간 개방 시범 운영", "An RSS 1.0 story", "An RSS 0.91 story"}
    atom = _articles(session, "ko")[0]
    assert atom.translation_url == "https://fixture.example/en/library"
    assert "<style" not in atom.content_html and "24시간" in atom.summary


def test_a_later_ingest_completes_a_pair_whichever_side_came_first(session, feed_server, settings):
    add_feed(session, feed_server.add("/ko.xml", Reply(body=_korean_cp949())), "ko", settings)
    session.commit()
    ingest_all(session, utcnow(), settings)
    assert all(a.pair_id is None for a in _articles(session))
    add_feed(
        session, feed_server.add("/en.xml", Reply(body=_fixture("en_rss2.xml"))), "en", settings
    )
    session.commit()
    ingest_all(session, utcnow(), settings)
    assert sum(a.pair_id is not None for a in _articles(session)) == 4


def test_conditional_get_makes_a_304_cost_nothing(session, feed_server, settings):
    def etagged(headers):
        if headers.get("if-none-match") == '"v1"':
            return Reply(304)
        return Reply(
            body=_fixture("en_rss2.xml"),
            headers={"ETag": '"v1"', "Last-Modified": "Wed, 25 Nov 2026 00:00:00 GMT"},
        )

    first = _ingest(session, settings, feed_server, {"/en.xml": (etagged, "en")})["en.xml"]
    assert first.new == 3
    feed = session.scalar(select(Feed))
    assert feed.etag == '"v1"' and feed.last_modified
    second = ingest_all(session, utcnow(), settings)[0]
    assert second.not_modified and second.new == second.updated == 0 and second.error is None
    _, headers = feed_server.requests[-1]
    assert headers["if-none-match"] == '"v1"' and headers["if-modified-since"] == feed.last_modified
    assert headers["user-agent"].startswith("bilingual-mailer/")
    assert session.scalar(select(func.count()).select_from(Article)) == 3


@pytest.mark.slow  # servers that stall and drip until the limits cut them off
def test_hostile_servers_are_recorded_and_never_stop_the_others(
    session, feed_server, limits, settings
):
    limits(feed_timeout_seconds=0.5, feed_max_bytes=20_000)
    big = b"<rss>" + b"x" * 50_000
    results = _ingest(
        session,
        settings,
        feed_server,
        {
            "/loop.xml": (Reply(302, headers={"Location": "/loop.xml"}), "en"),
            "/slow.xml": (Reply(body=_fixture("rss091.xml"), delay=2.0), "en"),
            "/big.xml": (Reply(body=big), "en"),
            "/unsized.xml": (Reply(body=big, headers={"Content-Length": ""}), "en"),
            "/gone.xml": (Reply(500, b"oops"), "en"),
            "/broken.xml": (Reply(body=_fixture("malformed.xml")), "en"),
            "/good.xml": (Reply(body=_fixture("en_rss2.xml")), "en"),
        },
    )
    assert "redirects" in results["loop.xml"].error
    assert "timed out" in results["slow.xml"].error
    assert "larger than 20000 bytes" in results["big.xml"].error
    assert (
        "larger than 20000 bytes" in results["unsized.xml"].error
    )  # no length given: counted as it comes
    assert "HTTP 500" in results["gone.xml"].error
    assert "malformed" in results["broken.xml"].error and results["broken.xml"].new >= 1  # salvaged
    assert "The first story survives" in {a.title for a in _articles(session)}
    assert results["good.xml"].error is None and results["good.xml"].new == 3
    errors = dict(session.execute(select(Feed.url, Feed.last_error)).all())
    assert sum(1 for e in errors.values() if e) == 6


def test_a_feed_that_breaks_later_keeps_what_it_had(session, feed_server, settings):
    state = {"body": _fixture("en_rss2.xml")}
    _ingest(
        session, settings, feed_server, {"/en.xml": (lambda _h: Reply(body=state["body"]), "en")}
    )
    state["body"] = b"<html>maintenance</html>"
    result = ingest_all(session, utcnow(), settings)[0]
    assert result.error == "not an RSS or Atom feed"
    assert len(_articles(session)) == 3


def test_feeds_list_shows_the_error_line(session, feed_server, settings):
    from click.testing import CliRunner

    from mailer.cli import main

    _ingest(session, settings, feed_server, {"/gone.xml": (Reply(503), "ko")})
    out = CliRunner().invoke(main, ["feeds", "list"]).output
    assert "gone.xml" in out and "ERROR: HTTP 503" in out and "items=0" in out
