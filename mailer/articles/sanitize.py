"""Article HTML cleaning (an nh3 allow-list) and plain-text summaries."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

import nh3

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "cite",
    "code",
    "em",
    "figcaption",
    "figure",
    "h2",
    "h3",
    "h4",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "strong",
    "sub",
    "sup",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "width", "height"},
    "abbr": {"title"},
    "q": {"cite"},
    "blockquote": {"cite"},
}
URL_SCHEMES = {"http", "https", "mailto"}
# Tags whose content goes too, not just the tag (nh3 keeps the text of unknown tags otherwise).
DROP_WITH_CONTENT = {
    "script",
    "style",
    "iframe",
    "object",
    "embed",
    "form",
    "noscript",
    "template",
    "svg",
}

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"[.!?。！？](?=\s|$)")


def cut_html(raw: str | None, max_bytes: int | None) -> str:
    """At most `max_bytes` of UTF-8 (a character is never split); a tag cut in two is the cleaner's to drop."""
    raw = raw or ""
    if max_bytes is None or len(raw) <= max_bytes // 4:  # 4 bytes a character at most: surely short
        return raw
    encoded = raw.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return raw
    return encoded[:max_bytes].decode("utf-8", "ignore")


_LINK_ATTRIBUTES = {"href", "src", "cite"}


def clean_html(raw: str, base: str | None = None) -> str:
    """Only the allow-listed markup survives: no scripts, styles, frames, handlers or javascript: URLs.
    Relative links are resolved against `base` (the feed's xml:base), when it is a web URL."""

    resolve = None
    if base and base.lower().startswith(("http://", "https://")):
        web_base = base

        def resolve(_tag: str, attribute: str, value: str) -> str | None:
            return urljoin(web_base, value) if attribute in _LINK_ATTRIBUTES else value

    return nh3.clean(
        raw or "",
        attribute_filter=resolve,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
    ).strip()


def to_text(markup: str) -> str:
    """Plain text of (already cleaned) HTML, whitespace folded."""
    text = re.sub(r"</(p|h\d|li|blockquote)>|<br\s*/?>", " ", markup or "", flags=re.IGNORECASE)
    return _SPACE.sub(" ", html.unescape(_TAG.sub("", text))).strip()


def summarize(text: str, limit: int) -> str:
    """At most `limit` characters, ending at a sentence end if one is late enough, else at a word."""
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]
    ends = [m.end() for m in _SENTENCE_END.finditer(cut) if m.end() <= limit]
    if ends and ends[-1] >= limit // 2:
        return cut[: ends[-1]].strip()
    space = cut.rfind(" ", 0, limit)
    head = cut[:space] if space >= limit // 2 else text[: limit - 1]
    return head.rstrip(" ,;:·") + "…"
