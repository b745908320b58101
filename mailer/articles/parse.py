"""Feed parsing (feedparser: RSS 0.9x/1.0/2.0, Atom; UTF-8 and legacy Korean encodings) into clean items."""

from __future__ import annotations

import calendar
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import feedparser

from mailer.articles.sanitize import clean_html, cut_html, summarize, to_text
from mailer.articles.urls import canonical, web_url
from mailer.langs import STORY_LANGS

# Korean publishers still serve EUC-KR, often with CP949 (its Microsoft superset) characters in it:
# decoding as CP949 reads both, where a strict EUC-KR decoder would give up on a single syllable.
KOREAN_LEGACY = {
    "euc-kr",
    "euc_kr",
    "euckr",
    "ks_c_5601-1987",
    "ksc5601",
    "ks_c_5601",
    "cp949",
    "x-windows-949",
    "windows-949",
    "uhc",
}
_XML_DECL = re.compile(rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])([A-Za-z0-9._:-]+)(["'])""")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
# Bytes kept free when cleaned HTML is cut again: the end tags the cleaner closes it with.
HTML_CLOSING_ROOM = 1024


@dataclass
class ParsedItem:
    """One story as a feed gives it. No text of it holds a NUL: a feed may carry one (raw or as &#0;), and
    PostgreSQL refuses it in a text column, which would fail the feed's whole ingest."""

    guid: str
    url: str
    title: str
    summary: str
    content_html: str
    published_at: datetime
    image_url: str | None = None
    translation_url: str | None = None  # a hreflang alternate in the other language

    def __post_init__(self):
        for name, value in vars(self).items():
            if isinstance(value, str) and "\x00" in value:
                setattr(self, name, value.replace("\x00", ""))


@dataclass
class ParsedFeed:
    title: str | None
    items: list[ParsedItem]
    error: str | None  # set when the feed was malformed; items holds what could be salvaged

    def __post_init__(self):
        if self.title:
            self.title = self.title.replace("\x00", "")


def _to_utf8(body: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """Re-encode a legacy Korean feed as UTF-8 (declaration and header charset adjusted to match)."""
    header = _CHARSET.search(content_type or "")
    decl = _XML_DECL.match(body)
    declared = (header.group(1) if header else decl.group(2).decode() if decl else "").lower()
    if declared not in KOREAN_LEGACY:
        return body, content_type
    text = body.decode("cp949", errors="replace").encode("utf-8")
    text = _XML_DECL.sub(rb"\1utf-8\3", text, count=1)
    return text, _CHARSET.sub("charset=utf-8", content_type) if content_type else None


def _when(entry, fallback: datetime) -> datetime:
    for key in ("published_parsed", "updated_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), UTC)
    return fallback


def _image(entry) -> str | None:
    for media in entry.get("media_content", []) + entry.get("media_thumbnail", []):
        if url := web_url(media.get("url")):
            return url
    for enc in entry.get("enclosures", []):
        if enc.get("type", "").startswith("image/") and (url := web_url(enc.get("href"))):
            return url
    return None


def _own_link(entry, lang: str | None) -> str | None:
    """The story's web link. Not feedparser's `link` alone: that is the last alternate it read, which
    may be the translation's (an <atom:link hreflang="ko"> after an English item's <link>)."""
    for link in entry.get("links", []):
        hreflang = (link.get("hreflang") or "").lower()[:2]
        if (
            link.get("rel") == "alternate"
            and hreflang in ("", lang)
            and (url := web_url(link.get("href")))
        ):
            return url
    return web_url(entry.get("link"))


def _translation(entry, lang: str | None) -> str | None:
    for link in entry.get("links", []):
        hreflang = (link.get("hreflang") or "").lower()[:2]
        url = web_url(link.get("href"))
        if link.get("rel") == "alternate" and hreflang in STORY_LANGS and hreflang != lang and url:
            return canonical(url)
    return None


def parse_feed(
    body: bytes,
    *,
    now: datetime,
    summary_length: int,
    content_type: str | None = None,
    lang: str | None = None,
    max_items: int | None = None,
    max_html_bytes: int | None = None,
) -> ParsedFeed:
    """The feed's items, newest `max_items` only; an item's HTML is cut at `max_html_bytes` before it is
    cleaned, and a cleaned item still over it keeps its summary alone."""
    body, content_type = _to_utf8(body, content_type)
    headers = {"content-type": content_type} if content_type else None
    try:
        # feedparser's own sanitizer is off: nh3 (clean_html) is the one allow-list for every item. So is
        # its resolving of relative links (clean_html does it): it parses every item's HTML whole, uncut,
        # at some 30 bytes of memory a byte of markup.
        parsed = feedparser.parse(
            body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
        )
    except (UnicodeError, ValueError, LookupError) as exc:  # a mangled encoding declaration
        return ParsedFeed(
            title=None,
            items=[],
            error=f"malformed feed: unreadable encoding ({type(exc).__name__})",
        )
    error = None
    if parsed.bozo:
        problem = parsed.get("bozo_exception")
        # A wrong declared charset that feedparser recovered from is not worth an error line.
        if not isinstance(problem, feedparser.CharacterEncodingOverride):
            error = f"malformed feed: {problem}"
    entries, dropped = parsed.entries, 0
    if max_items is not None and len(entries) > max_items:
        # the newest kept (sorted is stable: among equal dates, the feed's own order)
        entries = sorted(entries, key=lambda e: _when(e, now), reverse=True)
        entries, dropped = entries[:max_items], len(entries) - max_items
    items, unlinked = [], 0
    for entry in entries:
        guid = entry.get("id") or ""
        # the story's link, else a guid that is one (RSS isPermaLink); a story with no web link is left out
        link = _own_link(entry, lang) or web_url(guid)
        if not link:
            unlinked += 1
            continue
        detail = entry["content"][0] if entry.get("content") else entry.get("summary_detail") or {}
        raw = detail.get("value") or entry.get("summary", "")
        content = clean_html(cut_html(raw, max_html_bytes), detail.get("base"))
        summary_source = to_text(
            clean_html(cut_html(entry.get("summary", ""), max_html_bytes))
        ) or to_text(content)
        summary = summarize(summary_source, summary_length)
        if max_html_bytes is not None and len(content.encode()) > max_html_bytes:
            # cleaning swelled it (each link gains a rel attribute, each cut tag its end): cut again, with
            # room for the ends the cleaner adds, else the summary alone is stored
            again = clean_html(cut_html(content, max_html_bytes - HTML_CLOSING_ROOM))
            fits = len(again.encode()) <= max_html_bytes
            content = again if fits else f"<p>{html.escape(summary)}</p>" if summary else ""
        items.append(
            ParsedItem(
                guid=guid or canonical(link),
                url=canonical(link),
                title=to_text(cut_html(entry.get("title", ""), max_html_bytes)) or "(untitled)",
                summary=summary,
                content_html=content,
                published_at=_when(entry, now),
                image_url=_image(entry),
                translation_url=_translation(entry, lang),
            )
        )
    if unlinked and error is None:
        error = f"{unlinked} item(s) left out: no http(s) link"
    if dropped and error is None:
        error = f"{dropped} older item(s) left out: the feed has more than {max_items} (MAILER_FEED_MAX_ITEMS)"
    version = parsed.get("version")  # absent for an empty body
    if not items and error is None and (parsed.bozo or not version):
        error = "not an RSS or Atom feed" if not version else "feed has no readable items"
    return ParsedFeed(title=parsed.feed.get("title"), items=items, error=error)
