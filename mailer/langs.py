"""The languages: the one place that knows ko, en and the bilingual edition, and how each is written.

A story is written in one language (ko or en); a subscriber reads ko, en or both, and each of those is
an edition. Everything that differs by language (the html lang, the brand, the issue label, which
version of a story leads) is decided here, so templates and services never spell it out again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

KO, EN, BOTH = "ko", "en", "both"
STORY_LANGS = (EN, KO)  # what a feed or an article is written in
EDITIONS = (KO, EN, BOTH)  # what a subscriber reads, and so the editions of an issue
JOIN = " · "  # between the Korean and the English form in the bilingual edition (Korean first)


_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")


def written_in(text: str) -> str:
    """The language of a text no one labelled (a postal address, a custom preheader): Korean if it has Hangul."""
    return KO if _HANGUL.search(text) else EN


def marked(texts) -> list[tuple[str, str]]:
    """Each text with the language it is written in, for templates that mark up each in its own `lang`."""
    return [(written_in(t), t) for t in texts]


def languages_of(edition: str) -> tuple[str, ...]:
    """The languages an edition's own text is written in: both of them, Korean first, for the bilingual one."""
    return (KO, EN) if edition == BOTH else (edition,)


def html_lang(edition: str) -> str:
    """The `lang` of an edition's document: the bilingual one is Korean first."""
    return KO if edition == BOTH else edition


def sides(edition: str) -> tuple[str, ...]:
    """Which story languages an edition prefers, in order (a story shows in the first it has)."""
    return (EN, KO) if edition == EN else (KO, EN)


def in_edition(forms: Mapping[str, str], edition: str) -> str:
    """A text given per story language ({"ko": ..., "en": ...}) as the edition writes it."""
    return f"{forms[KO]}{JOIN}{forms[EN]}" if edition == BOTH else forms[edition]


def issue_label(number: int) -> dict[str, str]:
    """How each language writes an issue's number."""
    return {KO: f"제{number}호", EN: f"No. {number}"}


def brands(name_ko: str, name_en: str, edition: str) -> dict[str, str]:
    """The template values that name the newsletter: `brand` in the edition's form, and each language's."""
    names = {KO: name_ko, EN: name_en}
    return {"brand": in_edition(names, edition), "brand_ko": name_ko, "brand_en": name_en}
