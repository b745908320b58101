"""Which language a public page speaks. Pure functions: the request's parts in, "ko" or "en" out."""

from __future__ import annotations

from mailer.langs import STORY_LANGS

PAGE_LANGS = STORY_LANGS  # pages are in Korean or English


def from_accept_language(header: str | None) -> str:
    """Korean if the browser ranks Korean above English (by q, then by order), else English."""
    best: dict[str, tuple[float, int]] = {}
    for position, part in enumerate((header or "").split(",")):
        tag, *params = part.strip().split(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in PAGE_LANGS:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        rank = (q, -position)
        if q > 0 and rank > best.get(primary, (0.0, 0)):
            best[primary] = rank
    if "ko" in best and ("en" not in best or best["ko"] > best["en"]):
        return "ko"
    return "en"


def choose(subscriber_lang: str | None, requested: str | None, accept_language: str | None) -> str:
    """The subscriber's language when known, else the page's switch (?lang=), else Accept-Language.

    A bilingual subscriber may switch; without a switch they get Korean, as their digest leads with it.
    """
    if subscriber_lang in PAGE_LANGS:
        return subscriber_lang
    if requested in PAGE_LANGS:
        return requested
    if subscriber_lang == "both":
        return "ko"
    return from_accept_language(accept_language)


def other(lang: str) -> str:
    return "en" if lang == "ko" else "ko"
