"""The archive's Atom 1.0 feed of one language's issues, built as XML (every text escaped by the writer)."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from mailer.issues.models import Edition, Issue

NS = "http://www.w3.org/2005/Atom"
# a feed with no entry yet still needs an `updated`: a fixed instant, so the document does not change
EMPTY_UPDATED = datetime(2000, 1, 1, tzinfo=UTC)


def _when(edition: Edition) -> datetime:
    return edition.started_at or edition.rendered_at or EMPTY_UPDATED


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)
    element.text = text
    return element


def feed(
    base: str, lang: str, title: str, entries: list[tuple[Issue, Edition]], subtitle: str = ""
) -> bytes:
    """`entries` newest first; `base` the site's public URL (http or https), every link under it."""
    if not base.startswith(("https://", "http://")):
        raise ValueError("a feed's links must be http(s)")
    ET.register_namespace("", NS)
    root = ET.Element(f"{{{NS}}}feed", {"xml:lang": lang})
    self_url = f"{base}/archive/{lang}.atom"
    _text(root, "id", self_url)
    _text(root, "title", title)
    if subtitle:
        _text(root, "subtitle", subtitle)
    stamps = [_when(edition) for _, edition in entries]
    _text(root, "updated", _stamp(max(stamps, default=EMPTY_UPDATED)))
    ET.SubElement(root, f"{{{NS}}}link", {"rel": "self", "href": self_url})
    ET.SubElement(
        root, f"{{{NS}}}link", {"rel": "alternate", "href": f"{base}/archive?lang={lang}"}
    )
    author = ET.SubElement(root, f"{{{NS}}}author")
    _text(author, "name", title)
    for issue, edition in entries:
        url = f"{base}/archive/{issue.number}/{edition.lang}"
        entry = ET.SubElement(root, f"{{{NS}}}entry")
        _text(entry, "id", url)
        _text(entry, "title", edition.subject)
        ET.SubElement(entry, f"{{{NS}}}link", {"rel": "alternate", "href": url})
        _text(entry, "updated", _stamp(_when(edition)))
        if edition.preheader:
            _text(entry, "summary", edition.preheader)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
