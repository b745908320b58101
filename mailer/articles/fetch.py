"""Fetching a feed: local files (demo, fixtures) or HTTP with timeouts, a size cap and conditional GET."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from mailer import __version__

USER_AGENT = f"bilingual-mailer/{__version__} (+feed reader for a newsletter digest)"
MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
TIMEOUT = httpx.Timeout(20.0, connect=10.0)


class FetchError(Exception):
    pass


@dataclass
class Fetched:
    body: bytes | None  # None: not modified since the last fetch
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None


def fetch(url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
    scheme = urlsplit(url).scheme
    if scheme in ("http", "https"):
        return _fetch_http(url, etag, last_modified)
    path = Path(url[len("file://"):] if scheme == "file" else url)
    try:
        return Fetched(body=path.read_bytes()[: MAX_BYTES + 1])
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror}") from exc


def _fetch_http(url: str, etag: str | None, last_modified: str | None) -> Fetched:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/rss+xml, application/atom+xml, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=True, max_redirects=MAX_REDIRECTS) as client:
            with client.stream("GET", url, headers=headers) as resp:
                if resp.status_code == 304:
                    return Fetched(body=None, etag=etag, last_modified=last_modified)
                if resp.status_code >= 400:
                    raise FetchError(f"HTTP {resp.status_code} from {url}")
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise FetchError(f"feed larger than {MAX_BYTES // (1024 * 1024)} MiB: {url}")
                    chunks.append(chunk)
                return Fetched(
                    body=b"".join(chunks), etag=resp.headers.get("etag"),
                    last_modified=resp.headers.get("last-modified"),
                    content_type=resp.headers.get("content-type"),
                )
    except httpx.TooManyRedirects as exc:
        raise FetchError(f"more than {MAX_REDIRECTS} redirects: {url}") from exc
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out fetching {url}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"cannot fetch {url}: {exc}") from exc
