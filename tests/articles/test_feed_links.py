"""Only http(s) links leave a feed: a story's link, its image and its translation link are
what an email and a page link to, so javascript:, data: and the like are left out at ingest."""

import re
from datetime import UTC, datetime

from sqlalchemy import select

from mailer.articles.ingest import add_feed, ingest_all
from mailer.articles.models import Article
from mailer.articles.parse import parse_feed
from mailer.articles.urls import web_url
from mailer.db import utcnow

NOW = datetime(2026, 11, 26, tzinfo=UTC)
FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>Hostile</title><link>https://hostile.example/</link><description>x</description>
  <item><title>Script link</title><link>javascript:alert(document.cookie)</link><guid>g-1</guid>
    <pubDate>Wed, 25 Nov 2026 09:00:00 +0900</pubDate><description>a</description></item>
  <item><title>Data link</title><link>data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==</link><guid>g-2</guid>
    <pubDate>Wed, 25 Nov 2026 09:00:00 +0900</pubDate><description>b</description></item>
  <item><title>Tab in the scheme</title><link>java&#9;script:alert(1)</link><guid>g-3</guid>
    <pubDate>Wed, 25 Nov 2026 09:00:00 +0900</pubDate><description>c</description></item>
  <item><title>Guid only</title><guid isPermaLink="false">urn:uuid:0b2f</guid>
    <pubDate>Wed, 25 Nov 2026 09:00:00 +0900</pubDate><description>d</description></item>
  <item><title>A good story with bad extras</title><link>https://hostile.example/en/good</link><guid>g-5</guid>
    <media:content url="javascript:alert(2)" medium="image"/>
    <enclosure url="data:image/svg+xml;base64,PHN2Zy8+" type="image/svg+xml" length="1"/>
    <atom:link rel="alternate" hreflang="ko" href="javascript:alert(3)"/>
    <pubDate>Wed, 25 Nov 2026 09:00:00 +0900</pubDate><description>e</description></item>
  <item><title>Tags in its links</title><link>https://hostile.example/en/%unsubscribe_url%</link><guid>g-7</guid>
    <enclosure url="https://evil.example/pixel/%preferences_url%.png" type="image/png" length="1"/>
    <pubDate>Wed, 25 Nov 2026 09:00:00 +0900</pubDate><description>g</description></item>
  <item><title>A good story with a good image</title><link>HTTPS://Hostile.example/en/fine</link><guid>g-6</guid>
    <enclosure url="https://img.hostile.example/a.jpg?w=600" type="image/jpeg" length="1"/>
    <atom:link rel="alternate" hreflang="ko" href="https://hostile.example/ko/fine"/>
    <pubDate>Wed, 25 Nov 2026 09:00:00 +0900</pubDate><description>f</description></item>
</channel></rss>"""


def test_web_url_keeps_http_and_https_only():
    assert web_url("HTTPS://news.example/a?b=1") == "https://news.example/a?b=1"
    for bad in (
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,x",
        "vbscript:x",
        "file:///etc/passwd",
        "mailto:a@example.org",
        "//news.example/a",
        "/relative",
        "https://",
        "http://[::1",
        "",
        None,
    ):
        assert web_url(bad) is None, bad


def test_a_percent_that_begins_no_escape_is_quoted():
    """A feed's link cannot carry a mail's %tag%: its stray % are quoted, its escapes kept."""
    assert (
        web_url("https://evil.example/p/%preferences_url%.png?u=%unsubscribe_url%")
        == "https://evil.example/p/%25preferences_url%25.png?u=%25unsubscribe_url%25"
    )
    assert web_url("https://news.example/a%2Fb?q=%EA%B0%80&r=100%") == (
        "https://news.example/a%2Fb?q=%EA%B0%80&r=100%25"
    )


def test_a_feed_gives_no_link_but_http_and_https():
    parsed = parse_feed(FEED.encode(), now=NOW, summary_length=200, lang="en")
    assert [i.title for i in parsed.items] == [
        "A good story with bad extras",
        "Tags in its links",
        "A good story with a good image",
    ]
    good, tagged, fine = parsed.items
    assert tagged.url == "https://hostile.example/en/%25unsubscribe_url%25"
    assert tagged.image_url == "https://evil.example/pixel/%25preferences_url%25.png"
    assert (
        good.url == "https://hostile.example/en/good"
    )  # its own link, not the (bad) translation link
    assert good.image_url is None and good.translation_url is None
    assert fine.url == "https://hostile.example/en/fine"
    assert fine.image_url == "https://img.hostile.example/a.jpg?w=600"
    assert fine.translation_url == "https://hostile.example/ko/fine"
    assert parsed.error == "4 item(s) left out: no http(s) link"  # said, not silently dropped


def test_no_stored_article_links_anywhere_but_the_web(session, tmp_path, settings):
    path = tmp_path / "hostile.xml"
    path.write_text(FEED, encoding="utf-8")
    add_feed(session, str(path), "en", settings)
    session.commit()
    (result,) = ingest_all(session, utcnow(), settings)
    assert result.new == 3 and "left out" in result.error
    for article in session.scalars(select(Article)):
        for url in (article.url, article.image_url, article.translation_url):
            assert url is None or url.startswith(("https://", "http://")), url
            assert url is None or not re.search(r"_url%(?!25)", url), url  # no mail tag in a link
