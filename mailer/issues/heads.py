"""Edited subjects and preheaders that name a story no longer in the issue: a default one follows the
stories (mailer.issues.digest.render_issue), an editor's own is kept as written, so the desk warns
when it still names a story that was dropped or never picked."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mailer.articles.models import Article
from mailer.issues.models import Issue

# Stories dropped from an issue come from its window or from the recent ones the desk offers to add:
# titles published this long before the window are read too.
LOOKBACK = timedelta(days=30)
SHORTEST = 4  # a shorter title ("AI") is in too many sentences to say a story is named


def named(text: str, gone: list[str], kept: list[str]) -> list[str]:
    """The titles in `gone` that `text` contains, leaving out those that are part of a title still in
    the issue (naming that one is no mistake). Pure."""
    return [
        title
        for title in gone
        if len(title) >= SHORTEST and title in text and not any(title in k for k in kept)
    ]


def stale_names(session: Session, issue: Issue) -> dict[str, dict[str, list[str]]]:
    """{lang: {"subject"|"preheader": [titles]}} for each edited subject or preheader that names a
    story not in the issue (either side of a pair)."""
    edited = [
        (e.lang, field, getattr(e, field))
        for e in issue.editions
        for field in ("subject", "preheader")
        if getattr(e, f"{field}_edited")
    ]
    if not edited:
        return {}
    ids = [s.article_id for s in issue.stories]
    sides = session.execute(
        select(Article.id, Article.pair_id, Article.title).where(
            or_(Article.id.in_(ids), Article.pair_id.in_(ids))
        )
    ).all()
    inside = {i for i, _, _ in sides} | {pair for _, pair, _ in sides if pair}
    kept = [title for _, _, title in sides]
    rows = session.execute(
        select(Article.id, Article.title).where(
            Article.published_at >= issue.window_start - LOOKBACK
        )
    )
    gone = sorted({title.strip() for i, title in rows if i not in inside and title})
    found: dict[str, dict[str, list[str]]] = {}
    for lang, field, text in edited:
        titles = named(text, gone, kept)
        if titles:
            found.setdefault(lang, {})[field] = titles
    return found
