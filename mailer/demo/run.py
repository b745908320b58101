"""`mailer demo`: feeds -> articles -> issue -> editions -> outbox, on SQLite with tasks in-process."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mailer.config import Settings
from mailer.runtime import Runtime

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_SUBSCRIBERS = [
    ("minji.kim@example.com", "ko"),
    ("jihoon.park@example.com", "ko"),
    ("seoyeon.lee@example.com", "ko"),
    ("dohyun.choi@example.net", "ko"),
    ("emily.carter@example.com", "en"),
    ("daniel.okafor@example.org", "en"),
    ("sofia.martinez@example.net", "en"),
    ("hana.jung@example.org", "both"),
    ("michael.yoon@example.com", "both"),
]
# The sample stories span more than a week; squeeze them into the last six days so this week's issue has them all.
DEMO_SPAN = timedelta(days=6)
NEWEST_AGE = timedelta(hours=3)
DEMO_API_KEY = "SG.demo-standin"  # only ever sent to the stand-in on this machine
_PUBDATE = re.compile(r"<pubDate>([^<]+)</pubDate>")


def rebase_dates(xml: str, newest: datetime, span: timedelta = DEMO_SPAN) -> str:
    """Move a feed's pubDates so the newest is `newest`, keeping their order and at most `span` apart."""
    dates = [parsedate_to_datetime(d) for d in _PUBDATE.findall(xml)]
    if not dates:
        return xml
    latest, earliest = max(dates), min(dates)
    scale = min(1.0, span / (latest - earliest)) if latest > earliest else 1.0
    return _PUBDATE.sub(
        lambda m: (
            f"<pubDate>{format_datetime(newest - (latest - parsedate_to_datetime(m.group(1))) * scale)}</pubDate>"
        ),
        xml,
    )


def demo_settings(directory: Path, standin_url: str | None = None) -> Settings:
    """The embedded default, inside DIR, whatever the environment says."""
    from mailer.config import Settings

    chosen: dict[str, Any] = {
        "database_url": f"sqlite:///{(directory / 'mailer.db').resolve()}",
        "outbox_dir": str((directory / "outbox").resolve()),
        "mail_backend": "sendgrid" if standin_url else "outbox",
        "broker_url": "",
        "feed_allow_private": True,  # its feeds are the bundled sample files
    }
    if standin_url:
        chosen.update(sendgrid_host=standin_url, sendgrid_api_key=DEMO_API_KEY)
    return Settings(**chosen)


def run_demo(
    directory: Path,
    build_runtime: Callable[[Settings], Runtime],
    echo: Callable[[str], None] = print,
    backend: str = "outbox",
) -> dict:
    """The demo on a Runtime of its own, made by `build_runtime` (the entry point's composition root) from
    the demo's settings. With backend="sendgrid" the mail goes through the real SendGrid client to a
    stand-in on this machine."""
    if backend != "sendgrid":
        return _run(directory, build_runtime, echo, None)
    from mailer.standin import StandIn

    with StandIn(api_key=DEMO_API_KEY) as standin:
        echo(f"SendGrid stand-in listening on {standin.url}")
        summary = _run(directory, build_runtime, echo, standin)
        requests = sum(1 for _ in standin.accepted())
        echo(
            f"SendGrid stand-in accepted {len(standin.recipients())} message(s) in {requests} request(s)"
        )
    return summary


def _run(
    directory: Path,
    build_runtime: Callable[[Settings], Runtime],
    echo: Callable[[str], None],
    standin,
) -> dict:
    started = time.monotonic()
    directory.mkdir(parents=True, exist_ok=True)
    rt = build_runtime(demo_settings(directory, standin.url if standin else None))
    settings = rt.settings

    from mailer.articles.ingest import add_feed, ingest_all
    from mailer.articles.models import Feed
    from mailer.db import upgrade_database, utcnow
    from mailer.delivery.facade import send_now
    from mailer.delivery.stats import delivery_counts
    from mailer.issues.models import Issue
    from mailer.issues.service import draft_issue
    from mailer.issues.states import IssueStatus
    from subscribers import service as subscribers

    now = utcnow()
    upgrade_database(settings.database_url)
    feeds_dir = directory / "feeds"
    feeds_dir.mkdir(exist_ok=True)
    with rt.session() as session:
        for lang in ("en", "ko"):
            path = feeds_dir / f"{lang}.xml"
            if not path.exists():  # written once: a second run sees the same stories, not new ones
                xml = (SAMPLES / f"{lang}.xml").read_text(encoding="utf-8")
                path.write_text(rebase_dates(xml, now - NEWEST_AGE), encoding="utf-8")
            url = str(path.resolve())
            if session.scalar(select(Feed).where(Feed.url == url)) is None:
                add_feed(session, url, lang, settings)
        session.commit()
        results = ingest_all(session, now, settings)
        for r in results:
            echo(
                f"ingested {Path(r.feed_url).name}: {r.new} new, {r.updated} updated"
                + (f" (error: {r.error})" if r.error else "")
            )
        added = sum(
            subscribers.add(session, email, lang, confirmed=True, source="demo")[1]
            for email, lang in SAMPLE_SUBSCRIBERS
        )
        echo(f"subscribers: {added} added, {len(SAMPLE_SUBSCRIBERS) - added} already there")
        issue = draft_issue(session, now, settings)
        if issue is None:
            issue = session.scalars(select(Issue).order_by(Issue.number.desc()).limit(1)).one()
            echo(f"no new stories since issue #{issue.number}: nothing new drafted")
        else:
            echo(f"drafted issue #{issue.number} with {len(issue.stories)} stories")
        number, status = issue.number, issue.status

    if status in (IssueStatus.DRAFT, IssueStatus.SCHEDULED):
        batches = send_now(rt, number)
        echo(
            f"sent issue #{number} in {len(batches)} batch(es) through the {'SendGrid API' if standin else 'outbox'}"
        )
    else:
        echo(f"issue #{number} is already {status}: nobody is mailed twice")

    with rt.session() as session:
        issue = session.scalars(select(Issue).where(Issue.number == number)).one()
        counts = delivery_counts(session, issue.id)
        summary: dict[str, Any] = {
            "issue": number,
            "status": issue.status,
            "recipients": {lang: sum(c.values()) for lang, c in sorted(counts.items())},
            "subjects": {e.lang: e.subject for e in issue.editions},
            "outbox": str((directory / "outbox" / f"issue-{number}").resolve()),
            "seconds": round(time.monotonic() - started, 2),
        }
    echo("")
    echo(f"Issue #{summary['issue']}: {summary['status']}")
    for lang, n in summary["recipients"].items():
        echo(f"  {lang:<4} {n} recipient(s)  subject: {summary['subjects'][lang]}")
    if not standin:
        echo(f"Outbox: {summary['outbox']}")
    echo(f"Time: {summary['seconds']} s")
    return summary
