"""Which language a public page speaks. Pure functions: the request's parts in, "ko" or "en" out.

The page language is the reader's own choice (the switch on every page, remembered in a cookie), never
the edition they receive: a Korean reader of the English edition still reads Korean pages.
"""

from __future__ import annotations

from urllib.parse import urlencode

from mailer.langs import STORY_LANGS

PAGE_LANGS = STORY_LANGS  # pages are in Korean or English
DEFAULT = "ko"  # the newsletter's first language, for a browser that names neither
COOKIE = "mailer_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


def preferred(header: str | None) -> str | None:
    """Korean or English, whichever the browser ranks higher (by q, then by order); None for neither."""
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
    if not best:
        return None
    if "ko" in best and ("en" not in best or best["ko"] > best["en"]):
        return "ko"
    return "en"


def from_accept_language(header: str | None) -> str:
    """The desk's rule: Korean if the browser ranks Korean above English, else English."""
    return preferred(header) or "en"


def choose(requested: str | None, saved: str | None, accept_language: str | None) -> str:
    """The page's switch (?lang=), else the remembered choice (cookie), else the browser, else Korean."""
    for lang in (requested, saved):
        if lang in PAGE_LANGS:
            return lang
    return preferred(accept_language) or DEFAULT


def switch_url(path: str, query: list[tuple[str, str]], lang: str) -> str:
    """The same page (its path, token included, and its query) in `lang`."""
    kept = [(k, v) for k, v in query if k != "lang"]
    return f"{path}?{urlencode([*kept, ('lang', lang)])}"


def other(lang: str) -> str:
    return "en" if lang == "ko" else "ko"
