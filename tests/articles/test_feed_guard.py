"""Which feeds are fetched: http(s) only, public addresses only (before and after DNS and
redirects) unless MAILER_FEED_ALLOW_PRIVATE, and one deadline for the whole fetch."""

import socket
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from mailer.articles.fetch import FetchError, fetch
from mailer.articles.ingest import FeedError, add_feed, ingest_all
from mailer.articles.models import Feed
from mailer.cli import main
from mailer.db import utcnow

from .conftest import Reply
from .test_fetch import _fixture

REFUSED = [
    "file:///etc/passwd",
    "/etc/passwd",
    "gopher://127.0.0.1:70/_stats",
    "ftp://example.org/feed.xml",
    "http://127.0.0.1:8000/feed.xml",
    "http://localhost/feed.xml",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5/feed.xml",
    "http://[::1]/feed.xml",
    "http://[::ffff:127.0.0.1]/feed.xml",
    "http://0.0.0.0/feed.xml",
]


@pytest.fixture
def public_only(settings, monkeypatch):
    """The test's settings, refusing private addresses as a public server does."""
    monkeypatch.setattr(settings, "feed_allow_private", False)
    return settings


@pytest.fixture
def dns(monkeypatch):
    """Names of our choosing, resolved to the addresses we say; every other name as usual."""
    names: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        return real(names.get(host, host), port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.mark.parametrize("url", REFUSED)
def test_feeds_add_refuses_what_is_not_a_public_web_address(session, public_only, url, settings):
    with pytest.raises(FeedError, match="http|private|this machine"):
        add_feed(session, url, "en", settings)
    with pytest.raises(FetchError):  # a feed already on file is not fetched either
        fetch(url, settings=settings)
    assert session.scalar(select(func.count()).select_from(Feed)) == 0


def test_the_command_says_why_in_one_line(session, public_only, runtime):
    result = CliRunner().invoke(
        main, ["feeds", "add", "file:///etc/passwd", "--lang", "en"], obj=runtime
    )
    assert (
        result.exit_code == 1
        and "http:// or https://" in result.output
        and "Traceback" not in result.output
    )


@pytest.mark.parametrize("form", ["file://{}", "{}"])
def test_production_reads_no_local_file_even_with_private_feeds_allowed(
    session, settings, runtime, monkeypatch, tmp_path, form
):
    path = tmp_path / "en.xml"
    path.write_bytes(_fixture("en_rss2.xml"))
    url = form.format(path)
    add_feed(session, url, "en", settings)  # added while developing
    session.commit()
    monkeypatch.setattr(settings, "env", "production")
    assert settings.feed_allow_private
    with pytest.raises(FeedError, match="never MAILER_ENV=production"):
        add_feed(session, url + ".2", "en", settings)
    with pytest.raises(FetchError, match="never MAILER_ENV=production"):
        fetch(url, settings=settings)
    (result,) = ingest_all(session, utcnow(), settings)  # the feed on file is not read either
    assert "never MAILER_ENV=production" in result.error and result.new == 0
    command = CliRunner().invoke(main, ["feeds", "add", url + ".3", "--lang", "en"], obj=runtime)
    assert command.exit_code == 1 and "Traceback" not in command.output
    why = "local files are for development and tests, never MAILER_ENV=production"
    assert command.stderr.strip().splitlines() == [
        f"error: a feed URL must start with http:// or https://, not {url + '.3'!r} ({why})"
    ]


def test_a_name_that_resolves_to_a_private_address_is_refused_when_connecting(
    session, public_only, dns, feed_server, settings
):
    url = feed_server.add("/en.xml", Reply(body=_fixture("en_rss2.xml")))
    dns["feeds.example.org"] = "127.0.0.1"
    named = url.replace("127.0.0.1", "feeds.example.org")
    add_feed(session, named, "en", settings)  # a name: nothing to tell until it is resolved
    session.commit()
    (result,) = ingest_all(session, utcnow(), settings)
    assert "private address" in result.error and result.new == 0
    assert feed_server.requests == []


def test_a_redirect_to_an_internal_address_is_refused(
    session, public_only, dns, feed_server, monkeypatch, limits, settings
):
    from mailer.articles import guard

    limits(feed_timeout_seconds=2)
    # the test server stands for a public one; the metadata address stays private
    monkeypatch.setattr(guard, "is_public", lambda address: address == "127.0.0.1")
    dns["feeds.example.org"] = "127.0.0.1"
    url = feed_server.add(
        "/en.xml", Reply(302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    )
    with pytest.raises(FetchError, match="169.254.169.254.*private"):
        fetch(url.replace("127.0.0.1", "feeds.example.org"), settings=settings)
    assert [path for path, _ in feed_server.requests] == ["/en.xml"]


def test_private_addresses_and_files_are_read_when_allowed(
    session, settings, feed_server, tmp_path
):
    assert settings.feed_allow_private  # as the tests and an intranet set it
    url = feed_server.add("/en.xml", Reply(body=_fixture("en_rss2.xml")))
    assert fetch(url, settings=settings).body == _fixture("en_rss2.xml")
    path = tmp_path / "en.xml"
    path.write_bytes(b"<rss/>")
    assert (
        fetch(str(path), settings=settings).body
        == fetch(f"file://{path}", settings=settings).body
        == b"<rss/>"
    )
    with pytest.raises(FetchError, match="http:// or https://"):
        fetch("gopher://127.0.0.1:70/", settings=settings)  # never another scheme


@pytest.mark.slow  # waits for the fetch's deadline
def test_a_dripping_feed_is_cut_off_at_the_deadline(session, feed_server, limits, settings):
    """Each byte comes well within the per-read wait; the whole fetch still ends at the deadline."""
    limits(feed_timeout_seconds=1)
    url = feed_server.add("/drip.xml", Reply(body=_fixture("rss091.xml")[:40], drip=0.2))
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        fetch(url, settings=settings)
    assert (
        time.monotonic() - started < 4
    )  # the whole drip takes 8 s: cut off, with room for a busy machine


# IPv6 forms that lead to an IPv4 address: each is judged by the address it embeds.
EMBEDDED_PRIVATE = [
    "::ffff:10.0.0.5",  # IPv4-mapped
    "64:ff9b::7f00:1",  # NAT64 to 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 to 169.254.169.254
    "2002:7f00:1::1",  # 6to4 through 127.0.0.1
    "2002:c0a8:101::",  # 6to4 through 192.168.1.1
    "::10.0.0.5",  # IPv4-compatible
    "::127.0.0.1",
    "64:ff9b:1::808:808",  # NAT64's local-use prefix: a gateway of the site's own
]
EMBEDDED_PUBLIC = ["64:ff9b::808:808", "2002:808:808::1", "::8.8.8.8", "2606:4700::1111"]


@pytest.mark.parametrize("address", EMBEDDED_PRIVATE)
def test_ipv6_forms_of_a_private_ipv4_address_are_refused(
    session, public_only, monkeypatch, settings, address
):
    from mailer.articles import guard

    assert not guard.is_public(address)
    with pytest.raises(FeedError, match="private address"):
        add_feed(session, f"http://[{address}]/feed.xml", "en", settings)
    # and a name resolving to it, when connecting (refused before any connection is tried)
    infos = [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, 80, 0, 0))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: infos)
    with pytest.raises(FetchError, match="private address"):
        fetch("http://feeds.example.org/feed.xml", settings=settings)


@pytest.mark.parametrize("address", EMBEDDED_PUBLIC)
def test_ipv6_forms_of_a_public_ipv4_address_pass(address):
    from mailer.articles import guard

    assert guard.is_public(address)


def test_ipv6_forms_of_private_addresses_pass_when_allowed(settings):
    from mailer.articles import guard

    assert settings.feed_allow_private
    for address in EMBEDDED_PRIVATE:
        guard.check_url(f"http://[{address}]/feed.xml", settings.feed_allow_private)
