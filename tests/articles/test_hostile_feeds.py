"""Feeds built to hurt ingest: too many items, and items whose markup swells when cleaned."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from mailer.articles import ingest as ingest_module
from mailer.articles.ingest import FeedError, add_feed, ingest_all
from mailer.articles.models import Article, Feed
from mailer.cli import main
from mailer.db import utcnow

START = datetime(2026, 1, 1, tzinfo=UTC)


def rss(count: int, prefix: str = "item", shuffle: bool = False) -> bytes:
    """A feed of `count` items, item i published i minutes after START (in random order if asked)."""
    order = list(range(count))
    if shuffle:
        random.Random(7).shuffle(order)
    items = "".join(
        f"<item><title>{prefix} {i}</title><link>https://news.example.com/{prefix}/{i}</link>"
        f"<guid>{prefix}-{i}</guid>"
        f"<pubDate>{(START + timedelta(minutes=i)).strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
        "</item>"
        for i in order
    )
    return f'<rss version="2.0"><channel><title>{prefix}</title>{items}</channel></rss>'.encode()


def _count(session, feed_url: str) -> int:
    feed = session.scalar(select(Feed).where(Feed.url == feed_url))
    return session.scalar(select(func.count()).where(Article.feed_id == feed.id))


@pytest.mark.slow  # parses 40,000 items
def test_a_huge_feed_keeps_its_newest_items_and_never_starves_the_next(session, tmp_path, settings):
    huge, after = tmp_path / "huge.xml", tmp_path / "after.xml"
    huge.write_bytes(rss(40_000, "huge", shuffle=True))
    after.write_bytes(rss(3, "after"))
    add_feed(session, str(huge), "en", settings)
    add_feed(session, str(after), "en", settings)
    session.commit()
    assert settings.feed_max_items == 500
    results = {r.feed_url: r for r in ingest_all(session, utcnow(), settings)}
    assert results[str(huge)].new == 500 and "500" in results[str(huge)].error
    assert results[str(after)].new == 3 and results[str(after)].error is None
    kept = session.scalars(
        select(Article.guid).join(Feed).where(Feed.url == str(huge)).order_by(Article.guid)
    ).all()
    assert kept == sorted(f"huge-{i}" for i in range(39_500, 40_000))  # the newest 500


def test_existing_items_are_looked_up_in_chunks(session, tmp_path, settings, limits, monkeypatch):
    limits(feed_max_items=5000)
    monkeypatch.setattr(ingest_module, "LOOKUP_CHUNK", 7)
    sizes: list[int] = []
    real = ingest_module._known_chunk

    def spy(session, feed, guids, urls):
        sizes.append(len(guids) + len(urls))
        return real(session, feed, guids, urls)

    monkeypatch.setattr(ingest_module, "_known_chunk", spy)
    path = tmp_path / "many.xml"
    path.write_bytes(rss(50, "many"))
    add_feed(session, str(path), "en", settings)
    session.commit()
    (first,) = ingest_all(session, utcnow(), settings)
    (second,) = ingest_all(session, utcnow(), settings)  # every item found again: nothing new
    assert (first.new, second.new, second.updated) == (50, 0, 0)
    assert sizes and max(sizes) <= 14


def test_a_feed_that_fails_to_store_is_recorded_and_the_next_goes_on(
    session, tmp_path, settings, monkeypatch, runtime
):
    bad, good = tmp_path / "bad.xml", tmp_path / "good.xml"
    bad.write_bytes(rss(3, "bad"))
    good.write_bytes(rss(2, "good"))
    add_feed(session, str(bad), "en", settings)
    add_feed(session, str(good), "en", settings)
    session.commit()
    real = ingest_module._known

    def failing(session, feed, items):
        if "bad" in feed.url:
            raise OperationalError("SELECT ...", {}, Exception("too many SQL variables"))
        return real(session, feed, items)

    monkeypatch.setattr(ingest_module, "_known", failing)
    results = {r.feed_url: r for r in ingest_all(session, utcnow(), settings)}
    assert "too many SQL variables" in results[str(bad)].error
    assert "\n" not in results[str(bad)].error
    assert results[str(good)].new == 2
    session.expire_all()
    assert session.scalar(select(Feed.last_error).where(Feed.url == str(bad)))
    assert _count(session, str(bad)) == 0 and _count(session, str(good)) == 2

    result = CliRunner().invoke(main, ["ingest"], obj=runtime)
    assert "Traceback" not in result.output
    assert result.exit_code == 0  # one feed failed, not all


def test_the_ingest_command_says_one_line_when_ingest_itself_fails(
    session, runtime, monkeypatch, tmp_path, settings
):
    def broken(*args, **kwargs):
        raise OperationalError("SELECT ...", {}, Exception("database is locked"))

    monkeypatch.setattr(ingest_module, "pair_unpaired", broken)
    path = tmp_path / "one.xml"
    path.write_bytes(rss(1, "one"))
    add_feed(session, str(path), "en", settings)
    session.commit()
    result = CliRunner().invoke(main, ["ingest"], obj=runtime)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "database is locked" in result.stderr


def _hostile_feeds(tmp_path) -> list[str]:
    """Feed URLs that each fail in their own way."""
    from tests.broker import free_port

    (tmp_path / "malformed.xml").write_bytes(rss(3)[:-30])
    (tmp_path / "binary.bin").write_bytes(random.Random(3).randbytes(20_000))
    (tmp_path / "huge.xml").write_bytes(rss(3)[:-20] + b" " * 200_000 + b"</channel></rss>")
    (tmp_path / "encoding.xml").write_bytes(
        b'<?xml version="1.0" encoding="x-no-such"?><rss><channel><title>\xff\xfe</title>'
    )
    (tmp_path / "a-directory").mkdir()
    os.mkfifo(tmp_path / "a-pipe")  # opening it waits for a writer that never comes
    return [
        *(str(tmp_path / name) for name in ("malformed.xml", "binary.bin", "huge.xml")),
        f"file://{tmp_path / 'encoding.xml'}",
        str(tmp_path / "a-directory"),
        str(tmp_path / "a-pipe"),
        str(tmp_path / "missing.xml"),
        f"http://127.0.0.1:{free_port()}/feed.xml",  # nothing listens there
        "http://" + "a" * 64 + ".example/feed.xml",  # a host no request can name
    ]


def test_mailer_ingest_says_one_line_per_failing_feed_and_never_a_traceback(
    session, settings, tmp_path
):
    """`mailer ingest` as cron runs it: the good feed on stdout, each bad one in one line on stderr and
    as its last error, exit 0 while some feed was read; 1 when the only feed asked for failed."""
    hostile = _hostile_feeds(tmp_path)
    with pytest.raises(
        FeedError, match="control characters"
    ):  # PostgreSQL would refuse to store it
        add_feed(session, "/no\0such", "en", settings)
    good = tmp_path / "good.xml"
    good.write_bytes(rss(2, "good"))
    for url in [*hostile, str(good)]:
        add_feed(session, url, "en", settings)
    session.commit()

    def mailer(*args):
        return subprocess.run(
            [sys.executable, "-m", "mailer.cli", *args],
            env={
                **os.environ,
                "MAILER_FEED_MAX_BYTES": "100000",
                "MAILER_FEED_TIMEOUT_SECONDS": "5",
            },
            capture_output=True,
            check=False,
            text=True,
            timeout=60,
        )

    run = mailer("ingest")
    assert "Traceback" not in run.stdout + run.stderr, run.stderr
    assert run.stdout.splitlines() == [f"{good}: 2 new, 0 updated"]
    lines = run.stderr.splitlines()
    assert len(lines) == len(hostile), lines
    for url, line in zip(hostile, lines, strict=True):
        assert line.startswith(f"error: {url}: ") and len(line) > len(f"error: {url}: ") + 5
    assert run.returncode == 0  # one feed was read
    session.expire_all()
    errors = dict(session.execute(select(Feed.url, Feed.last_error)).all())
    assert all(errors[url] and "\n" not in errors[url] for url in hostile), errors
    alone = mailer("ingest", "--feed", str(tmp_path / "a-pipe"))
    assert alone.returncode == 1 and alone.stdout == ""
    assert alone.stderr.splitlines() == [
        f"error: {tmp_path / 'a-pipe'}: cannot read {tmp_path / 'a-pipe'}: not a regular file"
    ]


def _one_item(markup: str, summary: str = "") -> bytes:
    """An Atom entry whose content is `markup` (CDATA in an html content element)."""
    summary_element = f"<summary>{summary}</summary>" if summary else ""
    return (
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://news.example.com/a/">'
        "<title>swell</title><entry><id>swell</id><title>Swell</title>"
        '<link href="https://news.example.com/a/swell"/>'
        f'{summary_element}<content type="html"><![CDATA[{markup}]]></content></entry></feed>'
    ).encode()


def test_an_item_of_bare_links_is_cut_before_and_after_cleaning(settings):
    from mailer.articles.parse import parse_feed

    cap = settings.item_max_html_bytes
    assert cap == 256 * 1024
    parsed = parse_feed(
        _one_item("<a>" * 400_000, summary="A swollen story."),  # 1.2 MB, swelling 12-fold
        now=utcnow(),
        summary_length=200,
        max_html_bytes=cap,
    )
    (item,) = parsed.items
    assert 0 < len(item.content_html.encode()) <= cap  # cleaning swelled it: cut again
    assert item.summary == "A swollen story."


def test_long_content_is_cut_at_the_cap_before_cleaning(settings):
    from mailer.articles.parse import parse_feed

    paragraph = "<p>" + "가나다 " * 100 + "</p>"
    parsed = parse_feed(
        _one_item(paragraph * 2000), now=utcnow(), summary_length=200, max_html_bytes=64 * 1024
    )
    (item,) = parsed.items
    size = len(item.content_html.encode())
    assert 60 * 1024 < size <= 64 * 1024  # cut, closed by the cleaner, and within the cap
    assert item.content_html.startswith(paragraph) and "\ufffd" not in item.content_html


def test_relative_links_still_resolve_against_the_feed_base(settings):
    from mailer.articles.parse import parse_feed

    parsed = parse_feed(
        _one_item('<p><a href="next">on</a> <img src="/i.png"></p>'),
        now=utcnow(),
        summary_length=200,
        max_html_bytes=settings.item_max_html_bytes,
    )
    (item,) = parsed.items
    assert 'href="https://news.example.com/a/next"' in item.content_html
    assert 'src="https://news.example.com/i.png"' in item.content_html


# VmHWM, not ru_maxrss: Linux carries ru_maxrss over an exec, so a child of a large pytest process
# would report its parent's peak.
MEASURE = """
import re, sys
from mailer.articles.parse import parse_feed
from mailer.db import utcnow
body = open(sys.argv[1], "rb").read()
(item,) = parse_feed(body, now=utcnow(), summary_length=200, max_html_bytes=256 * 1024).items
peak = re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)
print(len(item.content_html.encode()), peak)
"""


@pytest.mark.slow  # a 10 MB item, parsed in a process of its own to measure its peak memory
def test_a_ten_megabyte_item_of_links_stays_small(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "swell.xml"
    path.write_bytes(_one_item("<a>" * 3_300_000))
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    stored, peak_kib = int(out[0]), int(out[1])
    assert stored <= 256 * 1024
    assert peak_kib < 300 * 1024, f"peak {peak_kib // 1024} MB"
