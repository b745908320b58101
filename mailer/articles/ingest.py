"""Ingesting feeds: fetch, parse, dedupe (guid, else canonical link), upsert, pair."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mailer.articles.fetch import FetchError, check_feed_url, fetch
from mailer.articles.models import Article, Feed
from mailer.articles.pairing import pair_unpaired
from mailer.articles.parse import ParsedItem, parse_feed
from mailer.config import Settings
from mailer.langs import STORY_LANGS

log = logging.getLogger(__name__)
# Values per `IN` when looking up a feed's items: far under any database's bind-parameter limit.
LOOKUP_CHUNK = 500
EDITABLE = (
    "url",
    "title",
    "summary",
    "content_html",
    "image_url",
    "translation_url",
    "published_at",
)


class FeedError(ValueError):
    pass


@dataclass
class IngestResult:
    feed_url: str
    new: int = 0
    updated: int = 0
    not_modified: bool = False
    error: str | None = None


def add_feed(session: Session, url: str, lang: str, settings: Settings) -> Feed:
    if lang not in STORY_LANGS:
        raise FeedError(f"feed language must be en or ko, not {lang!r}")
    try:
        check_feed_url(url, settings)
    except FetchError as exc:
        raise FeedError(str(exc)) from exc
    if session.scalar(select(Feed).where(Feed.url == url)):
        raise FeedError(f"feed already added: {url}")
    feed = Feed(url=url, lang=lang)
    session.add(feed)
    session.flush()
    return feed


def _upsert(
    session: Session, feed: Feed, item: ParsedItem, known: dict[str, Article], result: IngestResult
) -> None:
    """Insert a new story or update an edited one; `known` maps guid and canonical URL to existing rows."""
    existing = known.get(item.guid) or known.get(item.url)
    if existing is None:
        article = Article(
            feed_id=feed.id,
            lang=feed.lang,
            guid=item.guid,
            **{k: getattr(item, k) for k in EDITABLE},
        )
        session.add(article)
        known[item.guid] = known[item.url] = article
        result.new += 1
        return
    changed = {k: getattr(item, k) for k in EDITABLE if getattr(existing, k) != getattr(item, k)}
    if changed:
        for key, value in changed.items():
            setattr(existing, key, value)
        result.updated += 1


def _known_chunk(session: Session, feed: Feed, guids: list[str], urls: list[str]) -> list[Article]:
    return list(
        session.scalars(
            select(Article).where(
                Article.lang == feed.lang,
                or_((Article.feed_id == feed.id) & Article.guid.in_(guids), Article.url.in_(urls)),
            )
        )
    )


def _known(session: Session, feed: Feed, items: list[ParsedItem]) -> dict[str, Article]:
    """Existing rows these items may be: same feed and guid, or same language and canonical link."""
    guids, urls = sorted({i.guid for i in items}), sorted({i.url for i in items})
    rows: dict[int, Article] = {}
    for start in range(0, max(len(guids), len(urls)), LOOKUP_CHUNK):
        chunk = _known_chunk(
            session, feed, guids[start : start + LOOKUP_CHUNK], urls[start : start + LOOKUP_CHUNK]
        )
        rows.update((a.id, a) for a in chunk)
    known: dict[str, Article] = {}
    for a in sorted(rows.values(), key=lambda a: a.id):  # the oldest row wins a shared link
        if a.feed_id == feed.id:
            known[a.guid] = a
        known.setdefault(a.url, a)
    return known


def one_line(exc: BaseException) -> str:
    """An exception as one line: a database error's own message, without its SQL."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]


def ingest_feed(session: Session, feed: Feed, now: datetime, settings: Settings) -> IngestResult:
    """One feed; a failure is recorded on the feed and never touches what was ingested before."""
    result = IngestResult(feed_url=feed.url)
    feed.last_fetched_at = now
    try:
        fetched = fetch(feed.url, feed.etag, feed.last_modified, settings=settings)
    except FetchError as exc:
        feed.last_error = result.error = str(exc)
        log.warning("feed %s: %s", feed.url, exc)
        return result
    if fetched.body is None:
        result.not_modified = True
        feed.last_error = None
        return result
    parsed = parse_feed(
        fetched.body,
        now=now,
        summary_length=settings.summary_length,
        content_type=fetched.content_type,
        lang=feed.lang,
        max_items=settings.feed_max_items,
        max_html_bytes=settings.item_max_html_bytes,
    )
    known = _known(session, feed, parsed.items)
    seen = set()
    for item in parsed.items:
        if item.guid in seen:  # a feed that repeats an item
            continue
        seen.add(item.guid)
        _upsert(session, feed, item, known, result)
    session.flush()
    feed.title = parsed.title or feed.title
    feed.etag, feed.last_modified = fetched.etag, fetched.last_modified
    feed.last_error = result.error = parsed.error
    if parsed.error:
        log.warning("feed %s: %s (kept %d items)", feed.url, parsed.error, len(parsed.items))
    return result


def feeds_to_ingest(session: Session, only_url: str | None = None) -> list[Feed]:
    """Every feed not paused, or the one at `only_url` (FeedError when there is none): a feed named
    alone is fetched even when paused, since asked for by name it is meant."""
    chosen = (Feed.url == only_url) if only_url else Feed.paused.is_(False)
    feeds = list(session.scalars(select(Feed).where(chosen).order_by(Feed.id)).all())
    if only_url and not feeds:
        raise FeedError(f"no such feed: {only_url}")
    return feeds


def ingest_all(
    session: Session,
    now: datetime,
    settings: Settings,
    only_url: str | None = None,
    on_feed: Callable[[IngestResult], None] | None = None,
) -> list[IngestResult]:
    """Each feed in turn; `on_feed` hears each one's result as it is done (the CLI's progress bar)."""
    feeds = feeds_to_ingest(session, only_url)
    results = []
    for feed_id, url in [(feed.id, feed.url) for feed in feeds]:
        try:
            feed = session.get_one(Feed, feed_id)
            results.append(ingest_feed(session, feed, now, settings))
            session.commit()  # each feed stands alone: one bad feed never rolls back another
        except Exception as exc:  # noqa: BLE001 - whatever it was, it is this feed's and ingest goes on
            session.rollback()
            error = f"ingest failed: {one_line(exc)}"
            log.warning("feed %s: %s", url, error)  # one line, as a fetch error is
            results.append(IngestResult(feed_url=url, error=error))
            feed = session.get_one(Feed, feed_id)
            feed.last_fetched_at, feed.last_error = now, error
            session.commit()
        if on_feed is not None:
            on_feed(results[-1])
    pair_unpaired(session, now)
    session.commit()
    return results
