"""What `mailer feeds list` and `mailer articles list` show: feeds with their health, newest stories."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.articles.models import Article, Feed


def feed_report(session: Session) -> list[dict]:
    """Each feed with its item count, last fetch and last error."""
    counts = dict(
        session.execute(select(Article.feed_id, func.count()).group_by(Article.feed_id)).all()
    )
    return [
        {
            "url": f.url,
            "lang": f.lang,
            "title": f.title,
            "items": counts.get(f.id, 0),
            "last_fetched_at": f.last_fetched_at.isoformat() if f.last_fetched_at else None,
            "last_error": f.last_error,
            "paused": f.paused,
        }
        for f in session.scalars(select(Feed).order_by(Feed.id))
    ]


def newest_articles(session: Session, lang: str | None = None, limit: int = 50) -> list[dict]:
    query = select(Article).order_by(Article.published_at.desc(), Article.id.desc()).limit(limit)
    if lang:
        query = query.where(Article.lang == lang)
    return [a.as_dict() for a in session.scalars(query)]
