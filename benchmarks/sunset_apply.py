"""What counting unread issues (subscribers.sunset) costs: one issue delivered to N readers on PostgreSQL,
a `delivered` event each and a human open for every fourth, applied by `apply_pending` in its chunks,
once also counting each chunk's delivered readers at once (the first design) and once as built; then
the daily pass counting the settled issue from its ledger (mailer.events.unread), and the rule's pass
over the readers (none due: the usual day).

    python benchmarks/sunset_apply.py postgresql+psycopg://postgres@127.0.0.1:5432/DB [readers]

The database's tables are dropped and made again: give it one of its own.

Measured (2 shared cores, PostgreSQL 15 on the same machine, 200,000 readers, 250,000 events):
    apply, counting as each delivered event comes: 250,000 events in 205.4s, 1,217 events/s
    apply, as built (opens reset the count): 250,000 events in 181.0s, 1,381 events/s
    the daily pass counting the issue: 150,000 readers in 12.9s
    the rule's daily pass over 200,000 readers: 0.266s (0 asked, 0 paused)
(An earlier, busier run of the first design against apply with no sunset work at all: 1,003 against
1,826 events/s.)
"""

from __future__ import annotations

import sys
import time

from sqlalchemy import create_engine, text

from mailer.config import Settings
from mailer.db import upgrade_database, utcnow
from mailer.events import apply as apply_module
from mailer.events import unread
from mailer.events.apply import BATCH, apply_pending
from mailer.wiring import build_runtime
from subscribers import sunset


def fill(url: str, readers: int) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade_database(url)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subscribers (id, email, lang, status, consent_source, soft_bounces,"
                " unread_issues, created_at, updated_at) SELECT g, 'reader' || g || '@example.com',"
                " 'ko', 'active', 'cli', 0, 0, :t, :t FROM generate_series(1, :n) g"
            ),
            {"t": now, "n": readers},
        )
        conn.execute(
            text(
                "INSERT INTO deliveries (id, issue_id, edition_id, subscriber_id, email, status)"
                " SELECT g, 1, 1, g, 'reader' || g || '@example.com', 'sent'"
                " FROM generate_series(1, :n) g"
            ),
            {"n": readers},
        )
        for kind, every in (("delivered", 1), ("open", 4)):
            conn.execute(
                text(
                    "INSERT INTO webhook_events (sg_event_id, event, email, occurred_at, payload,"
                    " issue_id, delivery_id, received_at) SELECT :kind || '-' || g, :kind,"
                    " 'reader' || g || '@example.com', :t, json_build_object('event', :kind),"
                    " 1, g, :t FROM generate_series(1, :n) g WHERE g % :every = 0"
                ),
                {"kind": kind, "t": now, "n": readers, "every": every},
            )
    engine.dispose()


def _per_event(session, delivered: dict[int, set[int]]) -> None:
    """The first design: each applied chunk's delivered readers counted at once."""
    apply_module._count_by_issue(session, delivered, sunset.count_delivered)


def applied(url: str, readers: int, per_event: bool = False) -> tuple[int, float]:
    fill(url, readers)
    rt = build_runtime(Settings(_env_file=None, database_url=url, mail_backend="console"))
    started, total = time.perf_counter(), 0
    while True:
        with rt.session() as session:
            if per_event:
                pending = session.execute(
                    text(
                        "SELECT delivery_id FROM webhook_events WHERE processed_at IS NULL"
                        " AND event = 'delivered' ORDER BY id LIMIT :n"
                    ),
                    {"n": BATCH},
                ).scalars()
                ids = set(pending)
            n = apply_pending(session, utcnow(), rt.settings)
            if per_event and ids:
                _per_event(session, {1: ids})
        total += n
        if not n:
            return total, time.perf_counter() - started


def main() -> None:
    url = sys.argv[1]
    readers = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    # counted as each `delivered` event is applied (the first design), against the daily pass
    counted = applied(url, readers, per_event=True)
    plain = applied(url, readers)
    for name, (events, seconds) in (
        ("apply, counting as each delivered event comes", counted),
        ("apply, as built (opens reset the count)", plain),
    ):
        print(f"{name}: {events:,} events in {seconds:.1f}s, {events / seconds:,.0f} events/s")
    rt = build_runtime(Settings(_env_file=None, database_url=url, mail_backend="console"))
    with rt.session() as session:
        session.execute(text("UPDATE issues SET finished_at = :t"), {"t": utcnow() - unread.SETTLE})
    started = time.perf_counter()
    with rt.session() as session:
        moved = unread.count_issue(session, 1, utcnow())
    print(
        f"the daily pass counting the issue: {moved:,} readers in {time.perf_counter() - started:.1f}s"
    )
    with rt.session() as session:
        started = time.perf_counter()
        outcome = sunset.run(session, utcnow(), 12)
        print(
            f"the rule's daily pass over {readers:,} readers: {time.perf_counter() - started:.3f}s"
            f" ({len(outcome.asked)} asked, {len(outcome.paused)} paused)"
        )


if __name__ == "__main__":
    main()
