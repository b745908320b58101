"""Fetching a feed: local files (demo, fixtures) or HTTP with timeouts, a size cap, bounded redirects
and conditional GET (a 304 costs one small request and nothing else)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from mailer import __version__
from mailer.config import Settings, get_settings

USER_AGENT = f"bilingual-mailer/{__version__} (newsletter digest feed reader)"


class FetchError(Exception):
    pass


@dataclass
class Fetched:
    body: bytes | None  # None: not modified since the last fetch
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None


def fetch(url: str, etag: str | None = None, last_modified: str | None = None,
          settings: Settings | None = None) -> Fetched:
    settings = settings or get_settings()
    scheme = urlsplit(url).scheme
    if scheme in ("http", "https"):
        return _fetch_http(url, etag, last_modified, settings)
    path = Path(url[len("file://"):] if scheme == "file" else url)
    try:
        with path.open("rb") as f:
            body = f.read(settings.feed_max_bytes + 1)
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror}") from exc
    if len(body) > settings.feed_max_bytes:
        raise FetchError(f"feed larger than {settings.feed_max_bytes} bytes: {url}")
    return Fetched(body=body)


def _fetch_http(url: str, etag: str | None, last_modified: str | None, settings: Settings) -> Fetched:
    cap = settings.feed_max_bytes
    headers = {"User-Agent": USER_AGENT, "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    timeout = httpx.Timeout(settings.feed_timeout_seconds)
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=settings.feed_max_redirects) as client,
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
                body=b"".join(chunks), etag=resp.headers.get("etag"),
                last_modified=resp.headers.get("last-modified"),
                content_type=resp.headers.get("content-type"),
            )
    except httpx.TooManyRedirects as exc:
        raise FetchError(f"more than {settings.feed_max_redirects} redirects: {url}") from exc
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out after {settings.feed_timeout_seconds:g}s: {url}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"cannot fetch {url}: {exc}") from exc
