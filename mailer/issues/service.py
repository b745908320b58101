"""Drafting an issue, rendering its editions, and moving it through its states."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.articles.models import Article
from mailer.config import Settings, get_settings
from mailer.db import compare_and_set, utcnow
from mailer.issues.models import EDITION_LANGS, DraftRun, Edition, Issue, IssueStory
from mailer.issues.selection import Candidate, select_stories, window
from mailer.issues.states import ISSUE_TRANSITIONS, InvalidTransition, IssueStatus
from mailer.rendering.dates import long_date
from mailer.rendering.placeholders import PREFERENCES_URL, UNSUBSCRIBE_URL
from mailer.rendering.render import render_body, render_subject

log = logging.getLogger(__name__)
DIGEST = "digest"
PREHEADER_LENGTH = 120


class IssueError(ValueError):
    pass


def get_issue(session: Session, number: int) -> Issue:
    issue = session.scalar(select(Issue).where(Issue.number == number))
    if issue is None:
        raise IssueError(f"no issue #{number}")
    return issue


def draft_issue(session: Session, now: datetime, settings: Settings | None = None) -> Issue | None:
    """Draft the next issue from stories since the last cutoff; None (and a log line) for an empty week."""
    settings = settings or get_settings()
    last = session.scalar(select(Issue).order_by(Issue.number.desc()).limit(1))
    start, end = window(last.window_end if last else None, now)
    rows = session.execute(
        select(Article.id, Article.lang, Article.pair_id, Article.published_at).where(
            Article.published_at >= start, Article.published_at < end
        )
    )
    candidates = [Candidate(*row) for row in rows]
    used_rows = session.execute(
        select(IssueStory.article_id, Article.pair_id).join(Article, Article.id == IssueStory.article_id)
    )
    used = {i for row in used_rows for i in row if i is not None}
    picked = select_stories(candidates, start=start, end=end, used=used, limit=settings.digest_max_stories)
    if not picked:
        # Kept in draft_runs as well as logged: the dashboard tells editors why no issue appeared.
        session.add(DraftRun(ran_at=now, window_start=start, window_end=end, stories=0))
        session.flush()
        log.info("no new stories between %s and %s: no issue drafted", start.isoformat(), end.isoformat())
        return None
    number = (last.number if last else 0) + 1
    session.add(DraftRun(ran_at=now, window_start=start, window_end=end, stories=len(picked), issue_number=number))
    issue = Issue(number=number, status=IssueStatus.DRAFT, window_start=start, window_end=end)
    issue.stories = [IssueStory(article_id=aid, position=i) for i, aid in enumerate(picked)]
    issue.editions = [Edition(lang=lang, subject="") for lang in EDITION_LANGS]
    session.add(issue)
    session.flush()
    render_issue(session, issue, settings, now=now)
    return issue


def _version(a: Article) -> dict:
    return {"title": a.title, "summary": a.summary, "url": a.url, "lang": a.lang, "image_url": a.image_url}


def stories_of(session: Session, issue: Issue) -> list[dict]:
    """Each picked story in both languages where a translation exists: [{"en": {...}|None, "ko": ...}]."""
    ids = [s.article_id for s in issue.stories]
    articles = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(ids)))}
    pair_ids = [a.pair_id for a in articles.values() if a.pair_id]
    pairs = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(pair_ids)))}
    result = []
    for story in issue.stories:
        article = articles[story.article_id]
        sides = {"en": None, "ko": None, article.lang: _version(article), "note": story.note}
        if article.pair_id in pairs:
            partner = pairs[article.pair_id]
            sides[partner.lang] = _version(partner)
        result.append(sides)
    return result


def digest_context(issue: Issue, lang: str, stories: list[dict], settings: Settings, *, day) -> dict:
    brand = {"ko": settings.from_name_ko, "en": settings.from_name_en}
    label = {"ko": f"제{issue.number}호", "en": f"No. {issue.number}"}
    both = lambda d: f"{d['ko']} · {d['en']}"
    return {
        "number": issue.number,
        "lang": lang,
        "html_lang": "ko" if lang == "both" else lang,
        "brand": both(brand) if lang == "both" else brand[lang],
        "brand_ko": brand["ko"],
        "brand_en": brand["en"],
        "issue_label": both(label) if lang == "both" else label[lang],
        "date_text": long_date(day, lang),
        "lead_title": _side(stories[0], lang)["title"],
        "stories": stories,
        "archive_url": f"{settings.public_base}/archive/{issue.number}/{lang}",
        "unsubscribe_url": UNSUBSCRIBE_URL,
        "preferences_url": PREFERENCES_URL,
    }


def _side(story: dict, lang: str) -> dict:
    """The story in the edition's language, else in the one it has (Korean first for bilingual)."""
    order = ("en", "ko") if lang == "en" else ("ko", "en")
    return next(story[k] for k in order if story[k])


def _default_preheader(stories: list[dict], lang: str) -> str:
    titles = [_side(s, lang)["title"] for s in stories[1:4]]
    text = " · ".join(titles)
    return text if len(text) <= PREHEADER_LENGTH else text[: PREHEADER_LENGTH - 1].rstrip() + "…"


def render_issue(session: Session, issue: Issue, settings: Settings | None = None, *, now: datetime | None = None):
    """Render every edition once and store it; a template error raises RenderError here, not at send time."""
    settings = settings or get_settings()
    stories = stories_of(session, issue)
    day = (now or issue.window_end).date()
    for edition in issue.editions:
        context = digest_context(issue, edition.lang, stories, settings, day=day)
        edition.subject = edition.subject or render_subject(DIGEST, edition.lang, context)
        edition.preheader = edition.preheader or _default_preheader(stories, edition.lang)
        context.update(subject=edition.subject, preheader=edition.preheader, note=edition.note)
        edition.html, edition.text = render_body(DIGEST, edition.lang, context)
        edition.rendered_at = utcnow()
    session.flush()


def transition(session: Session, issue: Issue, to: IssueStatus, **values) -> None:
    """Compare-and-set: of two workers or editors racing for the same move, one wins, the other is told."""
    allowed = ISSUE_TRANSITIONS[to]
    if not compare_and_set(session, Issue, issue.id, allowed, status=to, updated_at=utcnow(), **values):
        session.refresh(issue)
        raise InvalidTransition(f"issue #{issue.number} is {issue.status}; it cannot become {to}")
    session.refresh(issue)
