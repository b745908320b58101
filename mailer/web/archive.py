"""The public archive: every sent issue, each edition as a browser shows it, and a feed per language.

The web copy of an edition carries no reader's link at all: the mail-only footer (view in browser,
preferences, unsubscribe) is cut out and a footer of the site's own stands there instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from babel.dates import format_date
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import escape
from sqlalchemy.orm import Session

from mailer.issues import archive
from mailer.issues.models import Edition
from mailer.langs import EDITIONS, STORY_LANGS, languages_of
from mailer.web import atom, page
from mailer.web.deps import DbSession, settings_of
from mailer.web.i18n import Texts, texts

router = APIRouter()
# An edition shows its stories' pictures from the news site; it runs no script and may not be framed.
EDITION_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'none'"
)


def issue_day(editions: list[Edition]) -> date | None:
    """The one date an issue is listed under: the first day any of its editions went out."""
    days = [e.dated or (e.started_at.date() if e.started_at else None) for e in editions]
    return min((d for d in days if d), default=None)


def listing(session: Session, lang: str, latest: bool = False) -> list[dict]:
    """The archive's issues for templates/web/_issue_list.html, the day said in the page's language."""
    return [
        {
            "number": issue.number,
            "day": day,
            "day_text": format_date(day, "long", locale=lang) if day else "",
            "editions": editions,
        }
        for issue, editions in archive.public_issues(session, latest)
        for day in [issue_day(editions)]
    ]


@router.get("/archive", response_class=HTMLResponse)
def archive_index(request: Request, session: DbSession):
    lang = page.page_lang(request)
    return page.render(request, "archive", lang=lang, issues=listing(session, lang))


@router.get("/archive/{feed_lang}.atom")
def archive_feed(feed_lang: str, request: Request, session: DbSession):
    if feed_lang not in STORY_LANGS:
        return page.render(request, "not_found", 404)
    settings = settings_of(request)
    body = archive_feed_xml(settings.public_base, feed_lang, settings.from_name(feed_lang), session)
    return Response(
        body,
        media_type="application/atom+xml; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


def archive_feed_xml(base: str, lang: str, title: str, session: Session) -> bytes:
    subtitle = texts(lang)._("Every weekly digest we have sent.")
    return atom.feed(base, lang, title, archive.public_editions(session, lang), subtitle)


def web_footer(base: str, number: int, lang: str, others: list[str]) -> str:
    """The web copy's own footer, in the edition's language(s): sign up, the archive, other editions."""
    said = languages_of(lang)
    page_lang = said[0]

    def say(words: Callable[[Texts], str]) -> str:
        return " · ".join(words(texts(code)) for code in said)

    def link(href: str, text: str) -> str:
        return f'<a class="link" href="{escape(href)}" style="color:#0b57a4;">{escape(text)}</a>'

    parts = [
        link(f"{base}/subscribe?lang={page_lang}", say(lambda t: t._("Subscribe"))),
        link(f"{base}/archive?lang={page_lang}", say(lambda t: t._("Past issues"))),
    ]
    if others:
        editions = " · ".join(
            link(f"{base}/archive/{number}/{code}", texts(page_lang).label("lang_name", code))
            for code in others
        )
        heading = escape(say(lambda t: t._("Other languages")))
        parts.append(f"{heading}: {editions}")
    return "<br>".join(parts) + "<br>"


@router.get("/archive/{number:issue_number}/{lang}", response_class=HTMLResponse)
def archive_edition(number: int, lang: str, request: Request, session: DbSession):
    edition = archive.public_edition(session, number, lang) if lang in EDITIONS else None
    if edition is None:
        return page.render(request, "archive_missing", 404)
    settings = settings_of(request)
    others = [code for code in archive.public_langs(session, number) if code != lang]
    footer = web_footer(settings.public_base, number, lang, others)
    return HTMLResponse(
        archive.archive_html(edition, settings, footer),
        headers={"Content-Security-Policy": EDITION_POLICY, "Cache-Control": "public, max-age=300"},
    )
