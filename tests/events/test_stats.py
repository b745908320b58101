"""Per-issue stats by language, in `mailer issue show`."""

import json

from click.testing import CliRunner
from sqlalchemy import select

from mailer.cli import main
from mailer.db import utcnow
from mailer.delivery.models import Delivery
from mailer.delivery.tasks import send_issue
from mailer.events.apply import apply_pending
from mailer.events.stats import STATS, issue_stats
from mailer.events.store import store
from mailer.issues.models import Edition
from mailer.issues.service import draft_issue


def _event(kind, d, n=0):
    return {"event": kind, "email": d.email, "timestamp": 1800000000, "sg_event_id": f"{kind}-{d.id}-{n}",
            "issue_id": str(d.issue_id), "delivery_id": str(d.id)}


def test_stats_count_deliveries_per_language(session, ingested, subscribers_by_lang):
    issue = draft_issue(session, utcnow())
    session.commit()
    send_issue(issue.number)
    rows = session.execute(select(Delivery, Edition.lang).join(Edition, Edition.id == Delivery.edition_id)
                           .order_by(Delivery.id)).all()
    ko = [d for d, lang in rows if lang == "ko"]
    en = [d for d, lang in rows if lang == "en"]
    events = [_event("delivered", d) for d in ko + en]
    events += [_event("open", ko[0], 1), _event("open", ko[0], 2), _event("open", ko[1]), _event("click", ko[1])]
    events += [_event("bounce", en[0]), _event("spamreport", en[1]), _event("unsubscribe", en[2])]
    store(session, events, utcnow())
    apply_pending(session, utcnow())
    session.commit()
    stats = issue_stats(session, issue.id)
    assert stats["ko"] == {"sent": 4, "delivered": 4, "bounced": 0, "complained": 0, "opened": 2, "clicked": 1,
                           "unsubscribed": 0}
    assert stats["en"] == {"sent": 3, "delivered": 3, "bounced": 1, "complained": 1, "opened": 0, "clicked": 0,
                           "unsubscribed": 1}
    assert stats["both"] == {**dict.fromkeys(STATS, 0), "sent": 2}
    shown = json.loads(CliRunner().invoke(main, ["issue", "show", str(issue.number), "--json"]).stdout)
    assert {e["lang"]: e["stats"] for e in shown["editions"]} == stats
