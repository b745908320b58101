"""Feed parsing (feedparser: RSS 0.9x/1.0/2.0, Atom; UTF-8 and legacy Korean encodings) into clean items."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime

import feedparser

from mailer.articles.sanitize import clean_html, summarize, to_text
from mailer.articles.urls import canonical


@dataclass
class ParsedItem:
    guid: str
    url: str
    title: str
    summary: str
    content_html: str
    published_at: datetime
    image_url: str | None = None


@dataclass
class ParsedFeed:
    title: str | None
    items: list[ParsedItem]
    error: str | None  # set when the feed was malformed; items holds what could be salvaged


def _when(entry, fallback: datetime) -> datetime:
    for key in ("published_parsed", "updated_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), UTC)
    return fallback


def _image(entry) -> str | None:
    for media in entry.get("media_content", []) + entry.get("media_thumbnail", []):
        if media.get("url"):
            return media["url"]
    for enc in entry.get("enclosures", []):
        if enc.get("type", "").startswith("image/") and enc.get("href"):
            return enc["href"]
    return None


def parse_feed(body: bytes, *, now: datetime, summary_length: int, content_type: str | None = None) -> ParsedFeed:
    headers = {"content-type": content_type} if content_type else None
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=False)
    error = None
    if parsed.bozo:
        exc = parsed.get("bozo_exception")
        # A wrong declared charset that feedparser recovered from is not worth an error line.
        if not isinstance(exc, feedparser.CharacterEncodingOverride):
            error = f"malformed feed: {exc}"
    items = []
    for entry in parsed.entries:
        link = entry.get("link") or ""
        guid = entry.get("id") or ""
        if not (link or guid):
            continue
        raw = entry["content"][0]["value"] if entry.get("content") else entry.get("summary", "")
        content = clean_html(raw)
        summary_source = to_text(clean_html(entry.get("summary", ""))) or to_text(content)
        items.append(ParsedItem(
            guid=guid or canonical(link),
            url=canonical(link) if link else guid,
            title=to_text(entry.get("title", "")) or "(untitled)",
            summary=summarize(summary_source, summary_length),
            content_html=content,
            published_at=_when(entry, now),
            image_url=_image(entry),
        ))
    if not items and parsed.bozo and error is None:
        error = "feed has no readable items"
    return ParsedFeed(title=parsed.feed.get("title"), items=items, error=error)
