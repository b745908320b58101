"""`mailer feeds`, `mailer ingest` and `mailer articles`: the stories coming in."""

from __future__ import annotations

import logging
import sys

import click

from mailer.cli.base import db_session, main, print_json, runtime
from mailer.langs import STORY_LANGS


@main.group()
def feeds() -> None:
    """The RSS/Atom feeds to ingest."""


@feeds.command("add")
@click.argument("url")
@click.option("--lang", type=click.Choice(STORY_LANGS), required=True)
def feeds_add(url: str, lang: str) -> None:
    """Add a feed in one language."""
    from mailer.articles.ingest import add_feed

    with db_session() as session:
        feed = add_feed(session, url, lang, runtime().settings)
        click.echo(f"added feed {feed.id} ({lang}): {url}")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True)
def feeds_list(as_json: bool) -> None:
    """Feeds with their last fetch, last error and item count."""
    from mailer.articles.listing import feed_report

    with db_session() as session:
        rows = feed_report(session)
    if as_json:
        return print_json(rows)
    for r in rows:
        state = f"ERROR: {r['last_error']}" if r["last_error"] else "ok"
        state = f"paused, {state}" if r["paused"] else state
        click.echo(
            f"[{r['lang']}] {r['url']}  items={r['items']}  last={r['last_fetched_at'] or 'never'}  {state}"
        )


@main.command()
@click.option("--feed", "feed_url", help="Only this feed's URL.")
def ingest(feed_url: str | None) -> None:
    """Fetch every feed (or one), store new and edited stories, pair translations.

    One line a feed: on stdout when it was read, on stderr (and as the feed's last error) when not.
    Exits 1 when every feed failed, or ingest itself did; one bad feed among good ones is no failure."""
    from mailer.articles.ingest import FeedError, feeds_to_ingest, ingest_all, one_line
    from mailer.db import utcnow

    # each feed's trouble is this command's own line: the ingest log's warning would say it twice
    quiet = logging.getLogger("mailer.articles.ingest")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with db_session() as session:
            total = len(feeds_to_ingest(session, feed_url))
            # on a terminal, as `subscribers import` does; the lines per feed follow it
            with click.progressbar(
                length=total or 1,
                label="ingesting",
                file=sys.stderr,
                hidden=not (total and _stderr_is_tty()),
            ) as bar:
                results = ingest_all(
                    session,
                    utcnow(),
                    runtime().settings,
                    only_url=feed_url,
                    on_feed=lambda _: bar.update(1),
                )
    except (FeedError, click.ClickException):  # said in one line already, by the group or click
        raise
    except Exception as exc:  # noqa: BLE001 - the database, most likely: one line, not a traceback
        click.echo(f"error: ingest failed: {one_line(exc)}", err=True)
        sys.exit(1)
    finally:
        quiet.setLevel(level)
    for r in results:
        state = "not modified" if r.not_modified else f"{r.new} new, {r.updated} updated"
        if r.error:  # a feed that broke off part-way keeps what it gave: said too
            kept = f" (kept: {state})" if r.new or r.updated else ""
            click.echo(f"error: {r.feed_url}: {r.error}{kept}", err=True)
        else:
            click.echo(f"{r.feed_url}: {state}")
    if results and all(r.error for r in results):
        sys.exit(1)


def _stderr_is_tty() -> bool:
    return sys.stderr.isatty()


@main.group()
def articles() -> None:
    """Ingested stories and their en<->ko pairs."""


@articles.command("list")
@click.option("--lang", type=click.Choice(STORY_LANGS))
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=50, show_default=True)
def articles_list(lang: str | None, as_json: bool, limit: int) -> None:
    """Newest stories first."""
    from mailer.articles.listing import newest_articles

    with db_session() as session:
        rows = newest_articles(session, lang, limit)
    if as_json:
        return print_json(rows)
    for a in rows:
        pair = f"<->{a['pair_id']}" if a["pair_id"] else "unpaired"
        click.echo(f"{a['id']:>5} [{a['lang']}] {a['published_at'][:16]}  {a['title']}  ({pair})")


@articles.command("pair")
@click.argument("first", type=int)
@click.argument("second", type=int)
def articles_pair(first: int, second: int) -> None:
    """Pair an English and a Korean story by hand."""
    from mailer.articles.models import Article
    from mailer.articles.pairing import pair
    from mailer.issues.editing import follow_pairing

    with db_session() as session:
        before = {first, second} | {
            a.pair_id for i in (first, second) if (a := session.get(Article, i)) and a.pair_id
        }
        pair(session, first, second)
        redone = follow_pairing(session, before, runtime().settings)
    click.echo(f"paired {first} <-> {second}")
    for number in redone:
        click.echo(f"issue #{number} rendered again")


@articles.command("unpair")
@click.argument("article_id", type=int)
def articles_unpair(article_id: int) -> None:
    """Undo a story's pairing (both sides)."""
    from mailer.articles.models import Article
    from mailer.articles.pairing import unpair
    from mailer.issues.editing import follow_pairing

    with db_session() as session:
        article = session.get(Article, article_id)
        before = {article_id} | ({article.pair_id} if article and article.pair_id else set())
        unpair(session, article_id)
        redone = follow_pairing(session, before, runtime().settings)
    click.echo(f"unpaired {article_id}")
    for number in redone:
        click.echo(f"issue #{number} rendered again")
