"""en<->ko pairing: a story that links to a URL of the other language's feed is its translation,
whatever the anchor text; so is a hreflang alternate the feed names."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailer.articles.models import Article
from mailer.articles.urls import canonical, web_url

_HREF = re.compile(r"""<a\s[^>]*href=["']([^"']+)["']""", re.IGNORECASE)
PAIRING_HORIZON = timedelta(days=90)


class PairingError(ValueError):
    pass


def candidate_urls(article: Article) -> list[str]:
    """Where the translation may be: the feed's hreflang alternate first, then every link in the story."""
    linked = [
        canonical(url) for url in map(web_url, _HREF.findall(article.content_html or "")) if url
    ]
    return [article.translation_url, *linked] if article.translation_url else linked


def pair_unpaired(session: Session, now: datetime) -> int:
    """Pair every recent unpaired article with the unpaired article of the other language it links to.

    Runs after each ingest, so whichever side is ingested first, a later ingest completes the pair.
    """
    recent = session.scalars(
        select(Article).where(
            Article.pair_id.is_(None), Article.published_at >= now - PAIRING_HORIZON
        )
    ).all()
    by_url = {(a.lang, a.url): a for a in recent}
    made = 0
    for article in recent:
        if article.pair_id is not None:
            continue
        other_lang = "ko" if article.lang == "en" else "en"
        for url in candidate_urls(article):
            other = by_url.get((other_lang, url))
            if other is not None and other.pair_id is None:
                _link(session, article, other)
                made += 1
                break
    return made


def _link(session: Session, a: Article, b: Article) -> None:
    a.pair_id, b.pair_id = b.id, a.id
    session.flush()


def pair(session: Session, first_id: int, second_id: int) -> None:
    """An editor's pairing by hand: replaces any earlier pair of either article."""
    a, b = session.get(Article, first_id), session.get(Article, second_id)
    if a is None or b is None:
        raise PairingError(f"no article {first_id if a is None else second_id}")
    if a.lang == b.lang:
        raise PairingError("a pair needs one English and one Korean article")
    unpair(session, a.id)
    unpair(session, b.id)
    _link(session, a, b)


def unpair(session: Session, article_id: int) -> None:
    article = session.get(Article, article_id)
    if article is None:
        raise PairingError(f"no article {article_id}")
    if article.pair_id is not None:
        # Clear both sides in one statement first: the unique pair_id must never be held twice.
        session.execute(
            update(Article)
            .where(Article.id.in_([article.id, article.pair_id]))
            .values(pair_id=None)
        )
        session.expire_all()
