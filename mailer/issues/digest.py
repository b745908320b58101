"""An issue's digest: its stories in both languages, and each edition rendered once and stored."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer import langs
from mailer.articles.models import Article
from mailer.config import Settings
from mailer.db import utcnow
from mailer.issues.models import Edition, Issue
from mailer.rendering.dates import long_date
from mailer.rendering.placeholders import Tags, new_key, tags
from mailer.rendering.render import render_body, render_subject

DIGEST = "digest"  # templates/email/<lang>/digest/
PREHEADER_LENGTH = 120
PREHEADER_STORIES = 3  # the stories after the lead that the preheader names


def _version(a: Article) -> dict:
    return {
        "title": a.title,
        "summary": a.summary,
        "url": a.url,
        "lang": a.lang,
        "image_url": a.image_url,
    }


def stories_of(session: Session, issue: Issue) -> list[dict]:
    """Each picked story in both languages where a translation exists, with the editor's note in each:
    [{"en": {...}|None, "ko": {...}|None, "notes": {"ko": str|None, "en": str|None}}]."""
    ids = [s.article_id for s in issue.stories]
    articles = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(ids)))}
    pair_ids = [a.pair_id for a in articles.values() if a.pair_id]
    pairs = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(pair_ids)))}
    result = []
    for story in issue.stories:
        article = articles[story.article_id]
        sides = {"en": None, "ko": None, article.lang: _version(article), "notes": story.notes()}
        if article.pair_id in pairs:
            partner = pairs[article.pair_id]
            sides[partner.lang] = _version(partner)
        result.append(sides)
    return result


def planned_day(drafted: datetime, settings: Settings) -> date:
    """Before an edition is scheduled: the digest's next send day (MAILER_DIGEST_WEEKDAY in
    MAILER_DIGEST_TIMEZONE) on or after the day it was drafted there."""
    local = drafted.astimezone(ZoneInfo(settings.digest_timezone)).date()
    return local + timedelta(days=(settings.digest_weekday - local.weekday()) % 7)


def send_day(edition: Edition, issue: Issue, settings: Settings) -> date:
    """The day written on an edition: the day it went out, else the day it is due, in its send time zone."""
    when = edition.started_at or edition.send_at
    if when is None:
        return planned_day(issue.window_end, settings)
    return when.astimezone(ZoneInfo(edition.send_tz or settings.digest_timezone)).date()


def _side(story: dict, lang: str) -> dict:
    """The story in the edition's language, else in the one it has (Korean first for bilingual)."""
    return next(story[k] for k in langs.sides(lang) if story[k])


def _lead(stories: list[dict], lang: str) -> dict:
    """The first story written in the edition's own language leads (the bilingual edition's: Korean)."""
    own = langs.html_lang(lang)
    return next((s for s in stories if s[own]), stories[0])


def _shown(story: dict, lang: str) -> dict:
    """What one edition shows of a story: the version it leads with, the translation it links to, whether
    that version is in another language than the edition's (then it is labelled), and its notes."""
    main = _side(story, lang)
    other = story[langs.EN if main["lang"] == langs.KO else langs.KO]
    return {
        **story,
        "main": main,
        "other": other,
        "foreign": lang != langs.BOTH and main["lang"] != lang,
        "notes": [
            (code, story["notes"][code])
            for code in langs.languages_of(lang)
            if story["notes"][code]
        ],
    }


def digest_context(
    issue: Issue,
    lang: str,
    stories: list[dict],
    settings: Settings,
    *,
    day: date,
    notes: dict[str, str] | None = None,
    links: Tags | None = None,
) -> dict:
    """Everything an edition's templates need. `notes`: the issue's intro per language ({"ko", "en"});
    `links`: the tags the subscriber links are filled in at (the edition's own, see render_issue)."""
    links = links or tags(None)
    label = langs.issue_label(issue.number)
    lead = _lead(stories, lang)
    return {
        "number": issue.number,
        "lang": lang,
        "html_lang": langs.html_lang(lang),
        **langs.brands(settings.from_name_ko, settings.from_name_en, lang),
        # each text as each language writes it; the bilingual templates mark up each form with its own lang
        "forms": {
            "label": label,
            "date": {code: long_date(day, code) for code in langs.STORY_LANGS},
            "brand": {langs.KO: settings.from_name_ko, langs.EN: settings.from_name_en},
        },
        "label_ko": label[langs.KO],
        "label_en": label[langs.EN],
        "date_text": long_date(day, lang),
        "lead_title": _side(lead, lang)["title"],
        "stories": [_shown(s, lang) for s in stories],
        "notes": [
            (code, (notes or {}).get(code))
            for code in langs.languages_of(lang)
            if (notes or {}).get(code)
        ],
        "postal_lines": langs.marked(settings.postal_lines),  # CAN-SPAM
        "archive_url": f"{settings.public_base}/archive/{issue.number}/{lang}",
        "unsubscribe_url": links.unsubscribe,
        "preferences_url": links.preferences,
        "edition_url": links.edition,  # + "/ko", "/en" or "/both": the reader's switch to that edition
    }


def _default_preheader(stories: list[dict], lang: str) -> str:
    """The next stories after the lead that exist in the edition's own language, in that language."""
    own, lead = langs.html_lang(lang), _lead(stories, lang)
    titles = [s[own]["title"] for s in stories if s is not lead and s[own]][:PREHEADER_STORIES]
    text = langs.JOIN.join(titles)
    return text if len(text) <= PREHEADER_LENGTH else text[: PREHEADER_LENGTH - 1].rstrip() + "…"


def default_heads(
    issue: Issue, lang: str, stories: list[dict], settings: Settings, day: date
) -> tuple[str, str]:
    """The subject and preheader an edition has unless an editor wrote their own: the lead story's title
    in the subject, the next stories' in the preheader, from the issue's stories as they are now."""
    subject = render_subject(DIGEST, lang, digest_context(issue, lang, stories, settings, day=day))
    return subject, _default_preheader(stories, lang)


def render_issue(
    session: Session,
    issue: Issue,
    settings: Settings,
    editions: list[Edition] | None = None,
) -> None:
    """Render editions (every one by default) once and store them, each dated by the day it is sent; a
    template error raises RenderError here, not at send time."""
    stories = stories_of(session, issue)
    notes = {e.lang: e.note for e in issue.editions if e.lang in langs.STORY_LANGS}
    for edition in issue.editions if editions is None else editions:
        edition.dated = send_day(edition, issue, settings)
        edition.link_tag = new_key()  # fresh each rendering: only these tags are filled per reader
        context = digest_context(
            issue,
            edition.lang,
            stories,
            settings,
            day=edition.dated,
            notes=notes,
            links=tags(edition.link_tag),
        )
        # Defaults follow the stories on every change; an editor's own words are kept.
        if not (edition.subject_edited and edition.subject):
            edition.subject, edition.subject_edited = (
                render_subject(DIGEST, edition.lang, context),
                False,
            )
        if not (edition.preheader_edited and edition.preheader):
            edition.preheader = _default_preheader(stories, edition.lang)
            edition.preheader_edited = False
        context.update(subject=edition.subject, preheader=edition.preheader)
        edition.html, edition.text = render_body(DIGEST, edition.lang, context)
        edition.rendered_at = utcnow()
    session.flush()


def redate(session: Session, issue: Issue, editions: list[Edition], settings: Settings) -> None:
    """Re-render the editions whose send day is not the day written on them (sent early, or late), and
    those rendered before editions had their own link tags (whose shared tags stored content could hold)."""
    stale = [e for e in editions if e.dated != send_day(e, issue, settings) or not e.link_tag]
    if stale:
        render_issue(session, issue, settings, stale)
