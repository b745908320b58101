"""Ingest a pair of 500-item feeds (English RSS 2.0, Korean EUC-KR) over local HTTP; print items per second.

    python benchmarks/ingest.py [--items 500] [--database-url URL]

Runs a first ingest (everything new, sanitized and paired) and a second one (nothing changed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PARAGRAPH = {
    "en": "<p>The city council met on Tuesday to debate the budget, and members argued late into the night "
    "about transport, housing and schools.</p><script>track()</script><p onclick='x()'>More follows.</p>",
    "ko": "<p>시의회는 화요일 예산안을 두고 밤늦게까지 교통과 주거, 학교 문제를 논의했다.</p>"
    "<script>track()</script><p onclick='x()'>자세한 내용은 이어진다.</p>",
}


def make_feed(lang: str, n: int, now: datetime) -> bytes:
    other = "ko" if lang == "en" else "en"
    items = []
    for i in range(n):
        when = format_datetime(now - timedelta(minutes=10 * i))
        body = (
            PARAGRAPH[lang] * 3
            + f'<p><a href="https://bench.example/{other}/story-{i}?utm_source=x">other</a></p>'
        )
        items.append(
            f"<item><title>{'기사' if lang == 'ko' else 'Story'} {i}</title>"
            f"<link>https://bench.example/{lang}/story-{i}</link><guid>{lang}-{i}</guid><pubDate>{when}</pubDate>"
            f"<description><![CDATA[{body}]]></description></item>"
        )
    encoding = "euc-kr" if lang == "ko" else "utf-8"
    xml = (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>{lang}</title>'
        f"<link>https://bench.example/{lang}/</link><description>bench</description>{''.join(items)}</channel></rss>"
    )
    return xml.encode("cp949" if lang == "ko" else "utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mailer-ingest-bench-"))
    os.environ["MAILER_DATABASE_URL"] = args.database_url or f"sqlite:///{work / 'bench.db'}"
    os.environ["MAILER_FEED_ALLOW_PRIVATE"] = "true"  # its feeds are served from 127.0.0.1
    now = datetime.now(UTC)
    for lang in ("en", "ko"):
        (work / f"{lang}.xml").write_bytes(make_feed(lang, args.items, now))

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = partial(Quiet, directory=str(work))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"

    from sqlalchemy import func, select, update

    from mailer.articles.ingest import add_feed, ingest_all
    from mailer.articles.models import Article, Feed
    from mailer.config import get_settings
    from mailer.db import upgrade_database, utcnow
    from mailer.wiring import build_runtime

    get_settings.cache_clear()
    rt = build_runtime(get_settings())  # this script's entry point: the environment set above
    upgrade_database(rt.settings.database_url)
    with rt.session() as session:
        for lang in ("en", "ko"):
            add_feed(session, f"{base}/{lang}.xml", lang, rt.settings)
        session.commit()
        for label in (
            "first ingest (all new)",
            "second ingest (304 Not Modified)",
            "third ingest (re-parsed, unchanged)",
        ):
            if label.startswith("third"):
                session.execute(update(Feed).values(etag=None, last_modified=None))
            t0 = time.perf_counter()
            results = ingest_all(session, utcnow(), rt.settings)
            seconds = time.perf_counter() - t0
            total = 2 * args.items
            print(
                f"{label}: {total} items in {seconds:.2f} s = {total / seconds:,.0f} items/s "
                f"(new {sum(r.new for r in results)}, updated {sum(r.updated for r in results)}, "
                f"errors {[r.error for r in results if r.error]})"
            )
        paired = session.scalar(select(func.count()).where(Article.pair_id.is_not(None)))
        print(f"paired: {paired} of {2 * args.items} articles")
    httpd.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
