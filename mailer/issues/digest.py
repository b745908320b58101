"""An issue's digest: its stories in both languages, and each edition rendered once and stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer import langs
from mailer.articles.models import Article
from mailer.config import Settings, get_settings
from mailer.db import utcnow
from mailer.issues.models import Issue
from mailer.rendering.dates import long_date
from mailer.rendering.placeholders import PREFERENCES_URL, UNSUBSCRIBE_URL
from mailer.rendering.render import render_body, render_subject

DIGEST = "digest"  # templates/email/<lang>/digest/
PREHEADER_LENGTH = 120


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
    return {
        "number": issue.number,
        "lang": lang,
        "html_lang": langs.html_lang(lang),
        **langs.brands(settings.from_name_ko, settings.from_name_en, lang),
        "issue_label": langs.in_edition(langs.issue_label(issue.number), lang),
        "date_text": long_date(day, lang),
        "lead_title": _side(stories[0], lang)["title"],
        "stories": stories,
        "archive_url": f"{settings.public_base}/archive/{issue.number}/{lang}",
        "unsubscribe_url": UNSUBSCRIBE_URL,
        "preferences_url": PREFERENCES_URL,
    }


def _side(story: dict, lang: str) -> dict:
    """The story in the edition's language, else in the one it has (Korean first for bilingual)."""
    return next(story[k] for k in langs.sides(lang) if story[k])


def _default_preheader(stories: list[dict], lang: str) -> str:
    titles = [_side(s, lang)["title"] for s in stories[1:4]]
    text = langs.JOIN.join(titles)
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
