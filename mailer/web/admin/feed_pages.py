"""The desk's feeds: each feed with its last fetch, stories and last error; admins add one (through
the same URL guard as `mailer feeds add`), pause, resume or remove it, and fetch now. A fetch runs
after the answer is sent, in a worker thread, never on the web process's event loop."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from mailer.articles.ingest import FeedError, add_feed
from mailer.articles.models import Article, Feed
from mailer.articles.tasks import run_ingest
from mailer.issues.models import Editor
from mailer.langs import STORY_LANGS
from mailer.runtime import Runtime
from mailer.web.admin.auth import check_csrf
from mailer.web.admin.pages import CurrentAdmin, CurrentEditor, FormField, back, page, page_lang
from mailer.web.deps import DbSession, get_runtime, settings_of
from mailer.web.i18n import texts

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin")
NOTICES = ("added", "paused", "resumed", "removed", "fetching")


def _rows(session: Session) -> list[tuple[Feed, int]]:
    # One statement: on PostgreSQL each statement reads its own snapshot, and two could straddle a
    # fetch's commit and show a feed fetched "OK" with none of its stories counted yet.
    stories = (
        select(func.count()).where(Article.feed_id == Feed.id).correlate(Feed).scalar_subquery()
    )
    return [(f, n) for f, n in session.execute(select(Feed, stories).order_by(Feed.id)).all()]


def _list(
    request: Request,
    session: Session,
    editor: Editor,
    status: int = 200,
    error: str | None = None,
    detail: str | None = None,
) -> HTMLResponse:
    notice = request.query_params.get("notice")
    return page(
        request,
        "feeds",
        status,
        editor=editor,
        feeds=_rows(session),
        story_langs=STORY_LANGS,
        notice=notice if notice in NOTICES else None,
        error=error,
        detail=detail,
    )


@router.get("/feeds", response_class=HTMLResponse)
def feeds_page(request: Request, session: DbSession, editor: CurrentEditor):
    return _list(request, session, editor)


@router.post("/feeds/add")
def feeds_add(
    request: Request,
    session: DbSession,
    editor: CurrentAdmin,
    url: FormField = "",
    lang: FormField = "",
    csrf_token: FormField = "",
):
    check_csrf(request, csrf_token)
    t = texts(page_lang(request))
    url = url.strip()
    if not url:
        return _list(request, session, editor, 400, error=t._("Enter the feed's URL."))
    if lang not in STORY_LANGS:
        return _list(request, session, editor, 400, error=t._("Choose the feed's language."))
    try:
        add_feed(session, url, lang, settings_of(request))
        session.commit()
    except FeedError as exc:
        session.rollback()
        # the guard's reason is the fetcher's own English sentence: led by one in the page's language
        error = t._("The feed was not added. The reason, as the fetcher gives it:")
        return _list(request, session, editor, 400, error=error, detail=str(exc))
    return back("/admin/feeds", notice="added")


def _feed(session: Session, feed_id: int) -> Feed | None:
    return session.get(Feed, feed_id)


def _missing(request: Request, session: Session, editor: Editor) -> HTMLResponse:
    t = texts(page_lang(request))
    return _list(request, session, editor, 404, error=t._("There is no such feed."))


@router.post("/feeds/{feed_id:int}/{action}")
def feeds_change(
    feed_id: int,
    action: str,
    request: Request,
    session: DbSession,
    editor: CurrentAdmin,
    csrf_token: FormField = "",
):
    check_csrf(request, csrf_token)
    feed = _feed(session, feed_id)
    if feed is None or action not in ("pause", "resume", "remove", "fetch"):
        return _missing(request, session, editor)
    if action == "fetch":
        return _fetch(request, feed.url)
    if action == "remove":
        session.delete(feed)  # its stories go with it (ON DELETE CASCADE)
    else:
        feed.paused = action == "pause"
    session.commit()
    return back(
        "/admin/feeds", notice={"pause": "paused", "resume": "resumed"}.get(action, "removed")
    )


@router.post("/feeds/fetch")
def feeds_fetch_all(request: Request, editor: CurrentAdmin, csrf_token: FormField = ""):
    check_csrf(request, csrf_token)
    return _fetch(request, None)


def _fetch(request: Request, only_url: str | None) -> RedirectResponse:
    """Back to the list at once; the fetch runs after the answer in a worker thread (a sync
    background task), and the list's last-fetch column shows when it is done."""
    response = back("/admin/feeds", notice="fetching")
    response.background = BackgroundTask(_run, get_runtime(request), only_url)
    return response


def _run(runtime: Runtime, only_url: str | None) -> None:
    try:
        run_ingest(runtime, only_url)
    except FeedError:  # the feed was removed meanwhile: nothing to fetch
        log.info("fetch now: %s is gone", only_url)
