"""Retention on a synthetic 1M-reader issue: a 1M-row ledger and 2.6M webhook events with ~450-byte raw
payloads on PostgreSQL, aged past retention, then `run_prune`: the plan (dry run), the last count of
the issue (made final), and each table's partition dropped whole (the issue's rows in its own
partitions, as a send writes them) or, with --delete, its chunked deletes (the rows in the default
partitions, as for an issue without partitions of its own, and as on SQLite), with rows per second.

    python benchmarks/prune.py postgresql+psycopg://postgres@127.0.0.1:5432/DB [recipients] [--delete]

The database's tables are dropped and made again: give it one of its own.

Measured (2 shared cores, PostgreSQL 15 on the same machine, 1,000,000 recipients; a quieter run):
    webhook_events: 2,600,000 rows, 1,828 MiB; deliveries: 274 MiB
    plan (--dry-run): 2.1s; last count of the issue, made final: 6.4s
    prune: 10.4s in chunks of 10,000 rows
      webhook_events: 2,600,000 rows in 7.2s, 362,419 rows/s
      deliveries: 1,000,000 rows in 1.1s, 875,383 rows/s
(A busier run: 19.0 s, 199,000 events/s and 271,000 ledger rows/s.)
(Chunks as LIMIT over the rows not yet deleted, before ranges of ids: 55 s, 34,000 ledger rows/s.)

Partitioned by issue (migration 0024), three runs one after the other on a much busier machine (load
average 10-15 on 2 cores; the same sizes):
    plain tables, before partitioning: prune 63.4s (of which its own plan 4.4s)
      webhook_events: 2,600,000 rows in 46.9s, 55,478 rows/s; deliveries: 1,000,000 rows in 11.3s
    --delete (rows in the default partitions): prune 33.7s (plan 4.9s)
      webhook_events: 2,600,000 rows in 23.1s, 112,794 rows/s; deliveries: 1,000,000 rows in 5.9s
    the issue's own partitions: prune 8.3s (plan 4.7s), partitions dropped whole:
      webhook_events: 2,600,000 rows in 1.5s; deliveries: 1,000,000 rows in 0.6s
      (a DETACH and a DROP each; most of the time is the files' removal at commit: 0.4 s for
      100,000 recipients). Nothing is left for VACUUM, and the 2.1 GiB are back at once.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta

from sqlalchemy import create_engine, text

from mailer import partitions
from mailer.config import Settings
from mailer.db import upgrade_database, utcnow
from mailer.events.retention import finalize, plan, run_prune
from mailer.wiring import build_runtime

# Per recipient, as SendGrid sends them: processed, then delivered (or, for one in BOUNCE_EVERY, a bounce);
# an open for half the delivered and a click for a tenth: about 2.6 events. (kind, every, of the delivered)
BOUNCE_EVERY = 200
EVENTS = (
    ("processed", 1, False),
    ("delivered", 1, True),
    ("bounce", BOUNCE_EVERY, False),
    ("open", 2, True),
    ("click", 10, True),
)
LANGS = ("ko", "en", "both")
EVENT_HOURS = 72  # an issue's events occur over this many hours after its start


def add_sent_issue(
    conn,
    issue_id: int,
    at: datetime,
    recipients: int,
    langs=("ko",),
    ledger: bool = True,
    events: bool = True,
    own_partitions: bool = True,
) -> None:
    """A sent issue `issue_id` (number = id) to subscribers 1..recipients, started at `at`: its editions
    (reader g reads langs[(g - 1) % len(langs)], as _stack.copy_subscribers files them), batches of 1000,
    a ledger row each and their webhook events with ~450-byte raw payloads, occurring over 72 hours and
    applied at once (stored as the webhook stores them: mailer.events.raw). Ids are the issue's own ranges, so issues can be added one after another. Without
    `ledger` or `events`, the issue as retention leaves it: those rows gone."""
    n_langs, n_batches = len(langs), (recipients + 999) // 1000
    first_edition, first_batch, first_delivery = (
        (issue_id - 1) * n_langs,
        (issue_id - 1) * n_batches,
        (issue_id - 1) * recipients,
    )
    values = {"i": issue_id, "t": at, "n": recipients, "k": n_langs, "e0": first_edition}
    conn.execute(
        text(
            "INSERT INTO issues (id, number, status, window_start, window_end, started_at,"
            " finished_at, created_at, updated_at) VALUES (:i, :i, 'sent', :t, :t, :t, :t, :t, :t)"
        ),
        values,
    )
    if own_partitions:  # as when the send starts (else its rows land in the default partitions)
        partitions.ensure(conn, issue_id)
    for k, lang in enumerate(langs):
        conn.execute(
            text(
                "INSERT INTO editions (id, issue_id, lang, subject, preheader, note, started_at)"
                " VALUES (:id, :i, :lang, 'bench', '', '', :t)"
            ),
            {**values, "id": first_edition + k + 1, "lang": lang},
        )
    # a batch holds one edition's readers in the send; here batch b holds readers of every edition
    conn.execute(
        text(
            "INSERT INTO batches (id, issue_id, edition_id, status, size, attempts, suppressed,"
            " invalid, created_at, updated_at) SELECT :b0 + g, :i, :e0 + 1, 'accepted', 1000, 1, 0, 0,"
            " :t, :t FROM generate_series(1, :nb) g"
        ),
        {**values, "b0": first_batch, "nb": n_batches},
    )
    if not ledger:
        return
    conn.execute(
        text(
            "INSERT INTO deliveries (id, issue_id, edition_id, subscriber_id, batch_id, email,"
            " status, updated_at) SELECT :d0 + g, :i, :e0 + 1 + (g - 1) % :k, g,"
            " :b0 + (g - 1) / 1000 + 1, 'reader' || (g - 1) || '@bench.example',"
            " CASE WHEN g % :bounce = 0 THEN 'bounced' WHEN g % 10 = 0 THEN 'clicked'"
            " WHEN g % 2 = 0 THEN 'opened' ELSE 'delivered' END, :t FROM generate_series(1, :n) g"
        ),
        {**values, "d0": first_delivery, "b0": first_batch, "bounce": BOUNCE_EVERY},
    )
    if events:
        add_events(conn, issue_id, at, recipients)


def add_events(
    conn,
    issue_id: int,
    at: datetime,
    recipients: int,
    hours: tuple[int, int] = (0, EVENT_HOURS),
    applied: bool = True,
) -> None:
    """The issue's webhook events (see add_sent_issue) that occurred in `hours` (from, to) after `at`;
    `applied`: stamped applied at `at`, else stored as the webhook stores them, not applied yet."""
    for kind, every, of_delivered in EVENTS:
        conn.execute(
            text(
                "INSERT INTO webhook_events (sg_event_id, event, email, occurred_at, payload,"
                " issue_id, delivery_id, received_at, processed_at)"
                " SELECT :kind || '-' || :i || '-' || g, :kind, 'reader' || (g - 1) || '@bench.example',"
                " :t + (g % :span) * interval '1 hour',"
                # the payload as the webhook stores it (mailer.events.raw): without the keys its
                # columns hold (event, email, timestamp, sg_event_id, issue_id, delivery_id)
                " json_build_object("
                "  'sg_message_id', md5(g::text) || '.filter0001p1las1-12345-5F6A7B8C-1.0',"
                "  'url', 'https://news.example.com/story/' || (g / 10 % 20),"
                "  'useragent', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
                " (KHTML, like Gecko) Chrome/120.0 Safari/537.36', 'ip', '203.0.113.' || (g % 250),"
                "  'category', json_build_array('newsletter'))::json,"
                " :i, :d0 + g, :t + (g % :span) * interval '1 hour',"
                " CASE WHEN :applied THEN CAST(:t AS timestamp) END FROM generate_series(1, :n) g"
                " WHERE g % :every = 0 AND (NOT :of_delivered OR g % :bounce <> 0)"
                " AND g % :span >= :h0 AND g % :span < :h1"
            ),
            {
                "i": issue_id,
                "t": at,
                "n": recipients,
                "kind": kind,
                "every": every,
                "of_delivered": of_delivered,
                "d0": (issue_id - 1) * recipients,
                "bounce": BOUNCE_EVERY,
                "h0": hours[0],
                "h1": hours[1],
                "applied": applied,
                "span": EVENT_HOURS,
            },
        )


def fill(url: str, recipients: int, own_partitions: bool) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade_database(url)
    with engine.begin() as conn:
        add_sent_issue(
            conn, 1, utcnow() - timedelta(days=200), recipients, own_partitions=own_partitions
        )
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--delete"]
    by_delete = "--delete" in sys.argv[1:]
    url = args[0]
    recipients = int(args[1]) if len(args) > 1 else 1_000_000
    if "127.0.0.1" not in url and "localhost" not in url:
        raise SystemExit(f"refusing a non-local URL: {url}")
    started = time.perf_counter()
    fill(url, recipients, own_partitions=not by_delete)
    print(f"filled {recipients:,} ledger rows in {time.perf_counter() - started:.1f}s")
    rt = build_runtime(Settings(database_url=url))
    engine = create_engine(url)
    with engine.connect() as conn:
        sizes = conn.execute(
            text(
                # a partitioned table's size is its partitions'
                "SELECT (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('webhook_events')),"
                " (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('deliveries')),"
                " (SELECT count(*) FROM webhook_events)"
            )
        ).one()
    print(
        f"webhook_events: {sizes[2]:,} rows, {sizes[0] / 2**20:,.0f} MiB; "
        f"deliveries: {sizes[1] / 2**20:,.0f} MiB"
    )
    now = utcnow()
    t0 = time.perf_counter()
    with rt.session() as session:
        planned = plan(session, now, rt.settings)
    t1 = time.perf_counter()
    print(
        f"plan (--dry-run): {t1 - t0:.1f}s: {planned.events:,} events, {planned.deliveries:,} ledger rows"
    )
    with rt.session() as session:
        finalize(session, 1, now)
    t2 = time.perf_counter()
    print(f"last count of the issue, made final: {t2 - t1:.1f}s")
    last: dict[
        str, float
    ] = {}  # table: when its last chunk went (events go first, then the ledger)

    def progress(table: str, _rows: int) -> None:
        last[table] = time.perf_counter()

    t3 = time.perf_counter()
    with rt.session() as session:
        plan(session, now, rt.settings)
    t4 = time.perf_counter()
    done = run_prune(rt, now, progress=progress)
    end = time.perf_counter()
    events_end = last.get("webhook_events", t4 + (t4 - t3))
    spans = {
        "webhook_events": (done.events, events_end - t4 - (t4 - t3)),  # run_prune plans again
        "deliveries": (done.deliveries, end - events_end),
    }
    how = (
        f"partitions dropped whole: {done.partitions}"
        if done.partitions
        else f"in chunks of {rt.settings.prune_chunk_rows:,} rows"
    )
    print(f"prune: {end - t4:.1f}s, {how}")
    for table, (rows, seconds) in spans.items():
        print(
            f"  {table}: {rows:,} rows in {seconds:.1f}s, {rows / max(seconds, 1e-9):,.0f} rows/s"
        )
    with engine.connect() as conn:
        left = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM webhook_events), (SELECT count(*) FROM deliveries),"
                " (SELECT count(*) FROM issue_links), (SELECT count(*) FROM issue_hours)"
            )
        ).one()
    print(
        f"left: {left[0]} events, {left[1]} ledger rows; kept {left[2]} link rows, {left[3]} hour rows"
    )


if __name__ == "__main__":
    main()
