"""Fetching a feed: HTTP(S) on public addresses (mailer.articles.guard) within one deadline, with a size
cap, bounded redirects and conditional GET (a 304 costs one small request and nothing else). Local files
(the demo's, the tests') and private addresses only when MAILER_FEED_ALLOW_PRIVATE is true, and local files
never in production."""

from __future__ import annotations

import stat
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpcore
import httpx

from mailer import __version__
from mailer.articles import guard
from mailer.config import Settings

USER_AGENT = f"bilingual-mailer/{__version__} (newsletter digest feed reader)"


class FetchError(Exception):
    pass


@dataclass
class Fetched:
    body: bytes | None  # None: not modified since the last fetch
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None


def is_local_file(url: str) -> bool:
    """A file path or file:// URL: what the demo and the tests ingest."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return False
    return scheme in ("", "file")


def check_feed_url(url: str, settings: Settings) -> None:
    """Raise FetchError, saying why, for a feed URL this server will not fetch from."""
    if any(ord(c) < 32 or ord(c) == 127 for c in url):  # PostgreSQL stores no NUL; no URL has any
        raise FetchError(f"a feed URL has no control characters: {url!r}")
    if is_local_file(url):
        # A file path names this server's own files: fine for the demo and the tests, never a feed that
        # an editor's typo or a copied command should make production read (and publish).
        if settings.env == "production":
            raise FetchError(
                f"a feed URL must start with http:// or https://, not {url!r} "
                "(local files are for development and tests, never MAILER_ENV=production)"
            )
        if not settings.feed_allow_private:
            raise FetchError(
                f"a feed URL must start with http:// or https://, not {url!r} "
                "(local files only with MAILER_FEED_ALLOW_PRIVATE=true)"
            )
        return
    try:
        guard.check_url(url, settings.feed_allow_private)
    except guard.Refused as exc:
        raise FetchError(str(exc)) from exc


def fetch(
    url: str,
    etag: str | None = None,
    last_modified: str | None = None,
    *,
    settings: Settings,
) -> Fetched:
    check_feed_url(url, settings)
    if not is_local_file(url):
        try:
            return _fetch_http(url, etag, last_modified, settings)
        except (ValueError, httpx.InvalidURL) as exc:  # a host or port no request can be made to
            raise FetchError(f"not a usable URL: {url!r}: {exc}") from exc
    path = Path(url[len("file://") :] if url.lower().startswith("file://") else url)
    try:
        # a directory, a pipe or a device is no feed: opening a pipe would wait for a writer forever
        if not stat.S_ISREG(path.stat().st_mode):
            raise FetchError(f"cannot read {path}: not a regular file")
        with path.open("rb") as f:
            body = f.read(settings.feed_max_bytes + 1)
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:  # a NUL in the path
        raise FetchError(f"cannot read {url!r}: {exc}") from exc
    if len(body) > settings.feed_max_bytes:
        raise FetchError(f"feed larger than {settings.feed_max_bytes} bytes: {url}")
    return Fetched(body=body)


def _fetch_http(
    url: str, etag: str | None, last_modified: str | None, settings: Settings
) -> Fetched:
    cap = settings.feed_max_bytes
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    timeout = httpx.Timeout(settings.feed_timeout_seconds)
    # one deadline for the whole fetch (connects, redirects, every read), not only for each wait
    backend = guard.GuardedBackend(
        settings.feed_allow_private, time.monotonic() + settings.feed_timeout_seconds
    )
    transport = httpx.HTTPTransport()
    # httpx takes no network backend; its pool does, and every connection is made through it
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(), network_backend=backend
    )
    try:
        with (
            httpx.Client(
                timeout=timeout,
                follow_redirects=True,
                max_redirects=settings.feed_max_redirects,
                transport=transport,
            ) as client,  # a transport of our own: no proxy from the environment
            client.stream("GET", url, headers=headers) as resp,
        ):
            if resp.status_code == 304:
                return Fetched(body=None, etag=etag, last_modified=last_modified)
            if resp.status_code >= 400:
                raise FetchError(f"HTTP {resp.status_code} from {url}")
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise FetchError(f"feed larger than {cap} bytes ({declared} declared): {url}")
            chunks, size = [], 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > cap:  # a server that lies about, or omits, its length
                    raise FetchError(f"feed larger than {cap} bytes: {url}")
                chunks.append(chunk)
            return Fetched(
                body=b"".join(chunks),
                etag=resp.headers.get("etag"),
                last_modified=resp.headers.get("last-modified"),
                content_type=resp.headers.get("content-type"),
            )
    except httpx.TooManyRedirects as exc:
        raise FetchError(f"more than {settings.feed_max_redirects} redirects: {url}") from exc
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out after {settings.feed_timeout_seconds:g}s: {url}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"cannot fetch {url}: {exc}") from exc
    except guard.Refused as exc:  # a name, or a redirect, that leads to a private address
        raise FetchError(f"refused {url}: {exc}") from exc
