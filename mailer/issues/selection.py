"""Which stories go into a digest: pure functions, the clock passed in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_WINDOW = timedelta(days=7)  # the first issue looks back one week


@dataclass(frozen=True)
class Candidate:
    article_id: int
    lang: str
    pair_id: int | None
    published_at: datetime


def window(previous_cutoff: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """From the previous issue's cutoff (or a week back) up to now."""
    return (previous_cutoff or now - DEFAULT_WINDOW), now


def select_stories(
    candidates: Iterable[Candidate], *, start: datetime, end: datetime, used: set[int], limit: int
) -> list[int]:
    """One article id per story, newest first, at most `limit`.

    A translated pair is one story (represented by its English side); a story any of whose sides
    was in an earlier issue is left out.
    """
    groups: dict[frozenset[int], list[Candidate]] = {}
    for c in candidates:
        if start <= c.published_at < end:
            key = frozenset([c.article_id] if c.pair_id is None else [c.article_id, c.pair_id])
            groups.setdefault(key, []).append(c)
    ranked = []
    for key, sides in groups.items():
        if key & used:
            continue
        representative = min(sides, key=lambda c: (c.lang != "en", c.article_id))
        newest = max(c.published_at for c in sides)
        ranked.append((newest, representative.article_id))
    ranked.sort(reverse=True)
    return [article_id for _, article_id in ranked[:limit]]
