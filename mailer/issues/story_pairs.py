"""Pairing from the desk: an issue's story paired with its translation by hand, or unpaired, with the
articles' own pairing (mailer.articles.pairing), after which every editable issue holding either side
is rendered again so its editions and default subjects follow."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.articles import pairing
from mailer.articles.models import Article
from mailer.config import Settings
from mailer.issues import editing
from mailer.issues.models import Issue, IssueStory
from mailer.issues.service import IssueError


def _story(issue: Issue, article_id: int) -> IssueStory:
    """The issue's story, once the issue may still be edited."""
    if not editing.is_editable(issue):
        raise IssueError(
            f"issue #{issue.number} is {issue.status}: only drafts and scheduled issues can be edited",
            "not_editable",
            number=issue.number,
            status=str(issue.status),
        )
    return editing.story_of(issue, article_id)


def partners(session: Session, limit: int = 50) -> dict[str, list[Article]]:
    """{lang: recent unpaired articles in no issue}: what a story in the other language may be paired with."""
    rows = session.scalars(
        select(Article)
        .where(Article.pair_id.is_(None), Article.id.not_in(select(IssueStory.article_id)))
        .order_by(Article.published_at.desc(), Article.id.desc())
        .limit(limit * 2)
    ).all()
    return {lang: [a for a in rows if a.lang == lang][:limit] for lang in ("ko", "en")}


def pair_story(
    session: Session, issue: Issue, article_id: int, partner_id: int, *, settings: Settings
) -> list[int]:
    """Pair the issue's story with `partner_id` (the other language, in no issue: a story of its own
    would then be in the issue twice). The numbers of the issues rendered again."""
    _story(issue, article_id)
    partner = session.get(Article, partner_id)
    used = session.scalar(
        select(IssueStory.issue_id).where(IssueStory.article_id == partner_id).limit(1)
    )
    if partner is None or used is not None:
        raise IssueError(f"article {partner_id} cannot be paired", "pair_unavailable")
    article = session.get_one(Article, article_id)
    if partner.lang == article.lang:
        raise IssueError("a pair needs one English and one Korean story", "pair_same_lang")
    before = {article_id, partner_id} | {a.pair_id for a in (article, partner) if a.pair_id}
    pairing.pair(session, article_id, partner_id)
    return editing.follow_pairing(session, before, settings)


def unpair_story(
    session: Session, issue: Issue, article_id: int, *, settings: Settings
) -> list[int]:
    """Undo the pairing of the issue's story: both sides stand alone, the translation free to add."""
    _story(issue, article_id)
    article = session.get_one(Article, article_id)
    before = {article_id} | ({article.pair_id} if article.pair_id else set())
    pairing.unpair(session, article_id)
    return editing.follow_pairing(session, before, settings)
