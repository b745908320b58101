"""Render time and size of each edition of a full 10-story issue (the sample feeds).

    python benchmarks/render.py [--repeat N]

Prints milliseconds per edition (Jinja2 + MJML + text part) and the HTML size against the 90 KB budget.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mailer-bench-"))
    os.environ.update(
        {
            "MAILER_DATABASE_URL": f"sqlite:///{work / 'bench.db'}",
            "MAILER_BROKER_URL": "",
            "MAILER_FEED_ALLOW_PRIVATE": "true",
        }
    )  # the sample feeds are files

    from mailer.articles.ingest import add_feed, ingest_all
    from mailer.config import get_settings
    from mailer.db import upgrade_database, utcnow
    from mailer.demo.run import NEWEST_AGE, SAMPLES, rebase_dates
    from mailer.issues.digest import digest_context, stories_of
    from mailer.issues.service import draft_issue
    from mailer.rendering.render import render_body

    settings = get_settings()  # this script's entry point: the environment set above
    upgrade_database(settings.database_url)
    now = utcnow()
    from mailer.wiring import build_runtime

    with build_runtime(settings).session() as session:
        for lang in ("en", "ko"):
            path = work / f"{lang}.xml"
            path.write_text(
                rebase_dates((SAMPLES / f"{lang}.xml").read_text("utf-8"), now - NEWEST_AGE),
                "utf-8",
            )
            add_feed(session, str(path), lang, settings)
        ingest_all(session, now, settings)
        issue = draft_issue(session, now, settings)
        stories = stories_of(session, issue)
        print(f"issue #{issue.number}: {len(stories)} stories, {args.repeat} renders per edition")
        for edition in issue.editions:
            context = digest_context(issue, edition.lang, stories, settings, day=now.date())
            context.update(subject=edition.subject, preheader=edition.preheader, note=edition.note)
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                html, _text = render_body("digest", edition.lang, context)
                times.append((time.perf_counter() - t0) * 1000)
            size = len(html.encode())
            print(
                f"  {edition.lang:<4} median {statistics.median(times):.2f} ms  p95 "
                f"{statistics.quantiles(times, n=20)[-1]:.2f} ms  html {size / 1024:.1f} KB "
                f"({'under' if size < 90 * 1024 else 'OVER'} the 90 KB budget)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
