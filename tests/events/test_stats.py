"""Per-issue stats by language, in `mailer issue show`."""

import json

from click.testing import CliRunner
from sqlalchemy import select

from mailer.cli import main
from mailer.db import utcnow
from mailer.delivery.facade import send_now
from mailer.delivery.models import Delivery
from mailer.events.apply import apply_pending
from mailer.events.stats import STATS, issue_stats
from mailer.events.store import store
from mailer.issues.models import Edition
from mailer.issues.service import draft_issue


def _event(kind, d, n=0, **extra):
    return {
        **extra,
        "event": kind,
        "email": d.email,
        "timestamp": 1800000000,
        "sg_event_id": f"{kind}-{d.id}-{n}",
        "issue_id": str(d.issue_id),
        "delivery_id": str(d.id),
    }


def test_stats_count_deliveries_per_language(
    session, ingested, subscribers_by_lang, settings, runtime
):
    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    send_now(runtime, issue.number)
    rows = session.execute(
        select(Delivery, Edition.lang)
        .join(Edition, Edition.id == Delivery.edition_id)
        .order_by(Delivery.id)
    ).all()
    ko = [d for d, lang in rows if lang == "ko"]
    en = [d for d, lang in rows if lang == "en"]
    events = [_event("delivered", d) for d in ko + en]
    events += [
        _event("open", ko[0], 1),
        _event("open", ko[0], 2),
        _event("open", ko[1]),
        _event("click", ko[1]),
        # a proxy's fetch (Apple Mail Privacy Protection): no reader's open, counted apart
        _event("open", ko[2], 1, sg_machine_open=True),
        _event("open", ko[3], 1, sg_machine_open=True),
        _event("open", ko[3], 2, sg_machine_open=False),
    ]
    events += [_event("bounce", en[0]), _event("spamreport", en[1]), _event("unsubscribe", en[2])]
    store(session, events, utcnow())
    apply_pending(session, utcnow(), settings)
    session.commit()
    stats = issue_stats(session, issue.id)
    assert stats["ko"] == {
        "sent": 4,
        "delivered": 4,
        "bounced": 0,
        "complained": 0,
        "opened": 3,
        "clicked": 1,
        "unsubscribed": 0,
        "machine_opened": 2,
    }
    assert stats["en"] == {
        "sent": 3,
        "delivered": 3,
        "bounced": 1,
        "complained": 1,
        "opened": 0,
        "clicked": 0,
        "unsubscribed": 1,
        "machine_opened": 0,
    }
    assert stats["both"] == {**dict.fromkeys(STATS, 0), "sent": 2}
    # the ledger says the same: a machine's open proves delivery, not a reader
    session.expire_all()
    opened = {d.id: d.status for d in session.scalars(select(Delivery)).all()}
    assert (opened[ko[2].id], opened[ko[3].id]) == ("delivered", "opened")
    shown = json.loads(
        CliRunner().invoke(main, ["issue", "show", str(issue.number), "--json"]).stdout
    )
    assert {e["lang"]: e["stats"] for e in shown["editions"]} == stats


def test_pages_and_scrapes_read_counts_stored_by_beat(
    session, ingested, subscribers_by_lang, settings, runtime
):
    from datetime import timedelta

    from sqlalchemy import delete, update

    from mailer.events.models import IssueCounts
    from mailer.events.stats import refresh_active, stored_counts
    from mailer.issues.models import Issue
    from mailer.ops.metrics import Collector

    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    assert refresh_active(session, utcnow(), settings) == 0  # not started: nothing to count
    send_now(runtime, issue.number)
    now = utcnow()
    assert refresh_active(session, now, settings) == 1
    stored = session.get(IssueCounts, issue.id)
    assert stored.counted_at == now and stored.stats == issue_stats(session, issue.id)
    assert stored.deliveries == {"ko": {"sent": 4}, "en": {"sent": 3}, "both": {"sent": 2}}

    # A page or a scrape within the refresh interval reads the stored counts, not the ledger.
    session.execute(delete(Delivery).where(Delivery.issue_id == issue.id))
    session.commit()
    soon = now + timedelta(seconds=settings.stats_refresh_seconds)
    assert stored_counts(session, issue, soon, settings).stats["ko"]["sent"] == 4
    scraped = {
        (s.labels["issue"], s.labels["status"], s.labels["lang"]): s.value
        for m in Collector(runtime).collect()
        if m.name == "mailer_deliveries"
        for s in m.samples
    }
    n = str(issue.number)
    assert scraped == {(n, "sent", "ko"): 4, (n, "sent", "en"): 3, (n, "sent", "both"): 2}
    # Stale (beat not running): counted again, and stored.
    later = now + timedelta(seconds=3 * settings.stats_refresh_seconds)
    assert stored_counts(session, issue, later, settings).stats["ko"]["sent"] == 0
    assert session.get(IssueCounts, issue.id).counted_at == later
    # Settled: finished long ago, beat leaves it alone and its last counts stand.
    session.execute(
        update(Issue).where(Issue.id == issue.id).values(finished_at=now - timedelta(days=30))
    )
    session.commit()
    session.refresh(issue)
    assert refresh_active(session, later, settings) == 0
    assert stored_counts(session, issue, later + timedelta(days=1), settings).counted_at == later
    # Counted while it was sending, read once it has finished: counted again, for its final figures.
    finished = later + timedelta(seconds=1)
    session.execute(update(Issue).where(Issue.id == issue.id).values(finished_at=finished))
    session.commit()
    session.refresh(issue)
    assert stored_counts(session, issue, finished, settings).counted_at == finished
    assert (
        stored_counts(session, issue, finished + timedelta(seconds=1), settings).counted_at
        == finished
    )
