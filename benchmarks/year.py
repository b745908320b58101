"""A year of weekly issues at N readers on PostgreSQL, pruned as it goes, then every desk page timed.

    python benchmarks/year.py [URL] [--readers 100000] [--issues 52] [--runs 5] [--keep] [--reuse]
        [--steady] [--only TEXT]

URL: a PostgreSQL database of its own (its schema is dropped and made again); by default the script
creates `mailer_year_bench` on 127.0.0.1 and drops it at the end (--keep keeps it; --reuse times an
already built database again, after `db upgrade`, without building it).

What it does, in order:
- N active readers by COPY (benchmarks/_stack.copy_subscribers, a third each ko/en/both);
- week by week, issue k started at now - 3 days - (issues - k) weeks: its three editions, batches, a
  ledger row per reader (benchmarks/prune.add_sent_issue), and its webhook events as SendGrid sends them
  (prune.add_events: processed, delivered or for 1 in 200 a bounce, an open for half, a click for a
  tenth: 2.6 per reader, ~450-byte raw payloads, occurring over 72 hours) arriving SLICE_HOURS at a
  time: stored unapplied (processed_at NULL) as the webhook stores them, then applied by the events
  task's own run (mailer.events.tasks.run_process_events: apply_pending, whose marking UPDATE writes
  each row again, then a VACUUM of the partitions it left dead rows enough in) at the slice's end;
  autovacuum only as the server runs it (its settings are printed first); then retention at that
  moment (the project's own `run_prune`: the issue's counts and aggregates made final, events
  applied more than MAILER_EVENT_RETENTION_DAYS ago and ledger rows older than
  MAILER_LEDGER_RETENTION_DAYS deleted in chunks or their partitions dropped, partitions compacted)
  and a plain VACUUM of the two tables, so that the space of deleted rows is used again;
- retention once more at the real now, beat's stats refresh, and one reader in 200 made `bounced`
  (the suppression list);
- then, logged in as an admin through the login form (in-process, FastAPI's TestClient), each desk page,
  /metrics, `ops status` (the function, the command in this process, and the command as a new process,
  which includes Python's start) and beat's stats refresh of the current issue (the last one, 3 days
  old: its raw rows are all still there): one warm-up, then the median, min and max of --runs.

--steady builds only what retention leaves after a year (issue 1 whole, then pruned; its final figures
copied to the issues past both retentions; the ledger and events of the issues within them): the same
tables the pages read, at 1M readers in half an hour instead of hours. An issue's events stay until the
first daily prune after its last ones were applied MAILER_EVENT_RETENTION_DAYS before (events_held): 34
days, so on the day measured (the newest issue 3 days old, all its events in) five issues hold events,
the oldest (31 days) partly deleted in its partition: the worst day of the week.

Database sizes printed: before retention (a year unpruned, estimated as `issues` x what the first issue
added), the most it held while pruning as it went, and at the end; where the space goes (benchmarks/
_sizes.py: per table, partitions summed, its heap, TOAST and indexes, then the largest indexes) with
issue 1 built and before its retention, and at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/mailer_year_bench"
PAGE_TARGET_MS, OPS_TARGET_MS = 300, 1000
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
EDITOR, PASSWORD = "year", "a year of weekly issues"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url", nargs="?", default=None, help=f"default: {DEFAULT_URL}")
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument("--issues", type=int, default=52)
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each page (median)")
    parser.add_argument("--keep", action="store_true", help="keep the database the script made")
    parser.add_argument(
        "--reuse", action="store_true", help="time an already built database (no build)"
    )
    parser.add_argument(
        "--steady",
        action="store_true",
        help="build only what retention keeps (issue 1 whole, then pruned; older issues' figures "
        "copied from it; the ledger and events of the issues within retention): a year at 1M in "
        "minutes instead of hours",
    )
    parser.add_argument(
        "--only", default="", help="time only what has this text in its name (e.g. 'subscribers')"
    )
    return parser.parse_args(argv)


def db_size(engine) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.scalar(text("SELECT pg_database_size(current_database())"))


def vacuum(engine) -> None:
    from sqlalchemy import text

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE webhook_events, deliveries, subscribers"))


def gib(n: float) -> str:
    return f"{n / 2**30:,.2f} GiB"


def copy_figures(conn, source: int, issue: int) -> None:
    """Issue `source`'s final counts and aggregates, as issue `issue`'s."""
    from sqlalchemy import text

    for table, columns in (
        ("issue_counts", "counted_at, deliveries, stats, final_at"),
        ("issue_hours", "lang, event, hour, events"),
        ("issue_links", "lang, url, clicks"),
    ):
        sql = f"INSERT INTO {table} (issue_id, {columns}) SELECT :i, {columns} FROM {table}"
        conn.execute(text(sql + " WHERE issue_id = :s"), {"i": issue, "s": source})


# The events of an issue arrive over prune.EVENT_HOURS (72) hours after its start, each applied by the
# events task soon after it is stored: here SLICE_HOURS at a time, stored unapplied (processed_at NULL, as
# the webhook stores them), then applied by the events task's own run (mailer.events.tasks.
# run_process_events: apply_pending's SELECT of pending events and its marking UPDATE, then its VACUUM of
# the partitions left with dead rows enough) with `now` the slice's end.
SLICE_HOURS = 12
AUTOVACUUM = (
    "autovacuum",
    "autovacuum_naptime",
    "autovacuum_vacuum_threshold",
    "autovacuum_vacuum_scale_factor",
    "autovacuum_vacuum_insert_threshold",
    "autovacuum_vacuum_insert_scale_factor",
    "autovacuum_vacuum_cost_delay",
    "autovacuum_vacuum_cost_limit",
)


def events_held(settings) -> timedelta:
    """How long after its start an issue's events may still be held: retention counts from when each
    event was applied, the last ones EVENT_HOURS after the start, and its partition goes at the first
    daily prune after they are all due. The worst day of the week holds every issue younger than this."""
    from prune import EVENT_HOURS

    return timedelta(days=settings.event_retention_days, hours=EVENT_HOURS) + timedelta(days=1)


def autovacuum_settings(engine) -> str:
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT name, setting || COALESCE(unit, '') FROM pg_settings WHERE name = ANY(:n)"
            ),
            {"n": list(AUTOVACUUM)},
        ).all()
    found = dict(rows)
    return ", ".join(f"{n.removeprefix('autovacuum_') or n}={found.get(n)}" for n in AUTOVACUUM)


def arrive_and_apply(engine, rt, issue_id: int, at, readers: int, now) -> int:
    """The issue's events stored slice by slice as the webhook stores them, each slice applied by the
    events task's own code before the next arrives; returns the events applied."""
    from prune import EVENT_HOURS, add_events

    from mailer.events.tasks import run_process_events

    applied = 0
    for start in range(0, EVENT_HOURS, SLICE_HOURS):
        with engine.begin() as conn:
            add_events(conn, issue_id, at, readers, (start, start + SLICE_HOURS), applied=False)
        # the events task's own run, at the slice's end
        applied += run_process_events(rt, min(now, at + timedelta(hours=start + SLICE_HOURS)))
    return applied


def build(url: str, readers: int, issues: int, rt, steady: bool = False) -> dict:
    """The year, pruned as it goes (or, `steady`, as retention leaves it); returns the sizes seen."""
    import _stack
    from _sizes import breakdown
    from prune import EVENT_HOURS, LANGS, add_sent_issue
    from sqlalchemy import text

    from mailer.db import get_engine, utcnow
    from mailer.events.retention import run_prune
    from mailer.events.stats import refresh_counts
    from mailer.events.tasks import run_refresh_issue_counts

    _stack.fresh_schema(url)
    engine = get_engine(url)
    print(f"the server's autovacuum: {autovacuum_settings(engine)}", flush=True)
    took = _stack.copy_subscribers(url, readers)
    print(f"{readers:,} readers by COPY in {took:.1f}s", flush=True)
    now = utcnow()
    empty = db_size(engine)
    peak, first_issue = empty, 0
    for k in range(1, issues + 1):
        at = now - timedelta(days=3) - timedelta(weeks=issues - k)
        kept = {  # --steady: only the rows retention would keep now; issue 1 is built whole
            "ledger": k == 1 or now - at < timedelta(days=rt.settings.ledger_retention_days),
            "events": k == 1 or now - at < events_held(rt.settings),
        }
        t0 = time.perf_counter()
        with engine.begin() as conn:
            add_sent_issue(
                conn, k, at, readers, LANGS, ledger=kept["ledger"] or not steady, events=False
            )
            if steady and k > 1 and not kept["events"]:  # its figures as they were made final
                copy_figures(conn, 1, k)
        if kept["events"] or not steady:
            applied = arrive_and_apply(engine, rt, k, at, readers, now)
        if not (steady and k > 1 and not kept["events"]):
            with rt.session() as session:  # as beat counted it in its first days
                refresh_counts(session, k, min(now, at + timedelta(days=6)))
                session.commit()
        t1 = time.perf_counter()
        size = db_size(engine)
        peak = max(peak, size)
        if k == 1:
            first_issue = size - empty
            breakdown(
                engine, f"where the space goes: {readers:,} readers, issue 1 before retention"
            )
        if steady and k > 1:
            built = ", ".join(n for n, v in kept.items() if v) or "figures only"
            if kept["events"]:
                built += f": {applied:,} applied"
                # its partitions compacted when retention first could (then its oldest events are
                # deleted at the end, leaving their room in the file, as on the day measured)
                compact_at = at + timedelta(days=rt.settings.ledger_compact_days + 1)
                if compact_at < now:
                    done = run_prune(rt, now=compact_at)
                    built += f"; prune at day {rt.settings.ledger_compact_days + 1} compacted {done.compacted}"
            print(f"issue {k:>2}: built in {t1 - t0:5.1f}s ({built})", flush=True)
            continue
        # after its events have all arrived
        done = run_prune(rt, now=now if steady else at + timedelta(hours=EVENT_HOURS + 1))
        vacuum(engine)
        t2 = time.perf_counter()
        print(
            f"issue {k:>2}: built in {t1 - t0:5.1f}s; pruned {done.events:>9,} events,"
            f" {done.deliveries:>9,} ledger rows, compacted {len(done.compacted)} issues'"
            f" partitions in {t2 - t1:5.1f}s; database {gib(size)}",
            flush=True,
        )
    done = run_prune(rt, now=utcnow())
    vacuum(engine)
    with rt.session() as session:
        session.execute(text("UPDATE subscribers SET status = 'bounced' WHERE id % 200 = 0"))
        session.commit()
    run_refresh_issue_counts(rt)
    vacuum(engine)
    print(
        f"retention at now: {done.events:,} events, {done.deliveries:,} ledger rows;"
        f" issues whose partitions were compacted: {done.compacted}",
        flush=True,
    )
    return {"unpruned": empty + issues * first_issue, "peak": peak}


def log_in(client) -> None:
    form = client.get("/admin/login")
    answer = client.post(
        "/admin/login",
        data={
            "name": EDITOR,
            "password": PASSWORD,
            "csrf_token": CSRF.search(form.text).group(1),
            "next": "/admin",
        },
    )
    if answer.status_code != 303:
        raise SystemExit(f"could not log in: {answer.status_code}")


def timed(fn, runs: int) -> list[float]:
    fn()  # warm-up: caches, the first count of stale figures
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def targets(rt, readers: int, issues: int) -> list[tuple[str, object, int]]:
    """(name, a call, target in ms) for everything timed."""
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from mailer.cli import main as cli
    from mailer.db import utcnow
    from mailer.events.tasks import run_refresh_issue_counts
    from mailer.ops.status import status
    from mailer.web.admin.accounts import create_user
    from mailer.web.app import create_app

    with rt.session() as session:
        from mailer.issues.models import Editor

        if session.query(Editor).filter_by(name=EDITOR).one_or_none() is None:
            create_user(session, EDITOR, PASSWORD, role="admin")
            session.commit()
    client = TestClient(create_app(rt), base_url="https://testserver", follow_redirects=False)
    log_in(client)

    def get(path: str):
        def call():
            answer = client.get(path)
            if answer.status_code != 200:
                raise SystemExit(f"{path}: {answer.status_code}")

        return call

    def ops_function():
        with rt.session() as session:
            status(session, rt.settings, utcnow(), rt.kv)

    runner = CliRunner()

    def ops_command():
        result = runner.invoke(cli, ["ops", "status"], obj=rt)
        if result.exit_code not in (0, 3):
            raise SystemExit(f"ops status: {result.output}")

    def ops_process():
        subprocess.run(
            [sys.executable, "-m", "mailer.cli", "ops", "status"], check=False, capture_output=True
        )

    last_page = (readers + 49) // 50
    middle = readers // 2 + 1
    old = max(1, issues - 20)
    broad_deep = min(1000, max(1, last_page // 2))  # page 1,000, or the middle of a smaller list
    pages = [
        ("dashboard (issues list)", "/admin"),
        ("current issue's page", f"/admin/issues/{issues}"),
        ("current issue's live block", f"/admin/issues/{issues}/live"),
        ("current issue's progress", f"/admin/issues/{issues}/progress"),
        ("current issue's report", f"/admin/issues/{issues}/report"),
        ("current issue's report.csv", f"/admin/issues/{issues}/report.csv?table=editions"),
        (f"issue {old}'s report (pruned)", f"/admin/issues/{old}/report"),
        ("subscribers list", "/admin/subscribers"),
        ("subscribers, a deep page", f"/admin/subscribers?page={last_page // 2}"),
        (
            "subscribers, a deep page by Next",  # the link carries the last reader of the page before
            f"/admin/subscribers?page={last_page // 2 + 1}&after={readers - (last_page // 2) * 50 + 1}",
        ),
        ("subscribers, the last page", f"/admin/subscribers?page={last_page}"),
        ("subscribers, a search", f"/admin/subscribers?q=reader{middle}@"),
        (  # a fragment a ninth of the list holds ("reader5": reader5, reader50.., reader500..)
            "subscribers, a search paged deep",
            f"/admin/subscribers?q=reader5&page={max(1, readers // 9 // 50 * 9 // 10)}",
        ),
        # a fragment every address holds (reader{i}@bench.example): the matches are not all counted
        ("subscribers, a search of everyone", "/admin/subscribers?q=example"),
        (
            f"subscribers, everyone, p. {broad_deep}",
            f"/admin/subscribers?q=example&page={broad_deep}",
        ),
        (
            f"subscribers, everyone, p. {broad_deep + 1} by Next",
            f"/admin/subscribers?q=example&page={broad_deep + 1}&after={readers - broad_deep * 50 + 1}",
        ),
        (
            f"subscribers, everyone, p. {broad_deep} by Prev",
            f"/admin/subscribers?q=example&page={broad_deep}&before={readers - broad_deep * 50}",
        ),
        ("subscribers, ko only", "/admin/subscribers?lang=ko"),
        ("a subscriber's page", f"/admin/subscribers/{middle}"),
        ("suppression list", "/admin/subscribers?status=suppressed"),
        ("trends", "/admin/reports"),
        ("feeds", "/admin/feeds"),
        ("editors", "/admin/editors"),
        ("welcome mail", "/admin/mails/welcome"),
        ("/metrics", "/metrics"),
    ]
    return [
        *((name, get(path), PAGE_TARGET_MS) for name, path in pages),
        ("ops status (function)", ops_function, OPS_TARGET_MS),
        ("ops status (command)", ops_command, OPS_TARGET_MS),
        ("ops status (new process)", ops_process, 0),
        ("beat's stats refresh", lambda: run_refresh_issue_counts(rt), 0),
    ]


def main(argv=None) -> int:
    args = parse_args(argv)
    url = args.url or DEFAULT_URL
    if not url.startswith("postgresql"):
        raise SystemExit("this benchmark needs PostgreSQL (COPY, generate_series)")
    os.environ.update(
        {
            "MAILER_DATABASE_URL": url,
            "MAILER_BROKER_URL": "",
            "MAILER_SECRET_KEY": "bench-secret-key",
            "MAILER_PUBLIC_URL": "https://news.example.com",
            "MAILER_ENV": "development",
        }
    )
    import _stack
    from sqlalchemy.engine import make_url

    from mailer.db import get_engine, upgrade_database

    _stack.check_local(url)
    rt = _stack.runtime()
    engine = get_engine(url)
    if args.reuse:
        upgrade_database(url)
        sizes = {}
    else:
        t0 = time.perf_counter()
        sizes = build(url, args.readers, args.issues, rt, args.steady)
        print(f"built a year in {time.perf_counter() - t0:,.0f}s", flush=True)
    end = db_size(engine)
    if sizes:
        print(f"database before retention (a year unpruned, estimated): {gib(sizes['unpruned'])}")
        print(f"database at most while pruning as it went: {gib(sizes['peak'])}")
    print(f"database after retention: {gib(end)}")
    from _sizes import breakdown

    breakdown(engine, f"where the space goes after retention: {args.readers:,} readers")
    print(f"\n{args.readers:,} readers, {args.issues} weekly issues; median of {args.runs} runs")
    print(f"{'':34} {'median':>9} {'min':>9} {'max':>9}  target")
    for name, call, target in targets(rt, args.readers, args.issues):
        if args.only.lower() not in name.lower():
            continue
        ms = timed(call, args.runs)
        verdict = "" if not target else ("ok" if statistics.median(ms) < target else "OVER")
        print(
            f"{name:34} {statistics.median(ms):7.0f}ms {min(ms):7.0f}ms {max(ms):7.0f}ms"
            f"  {f'< {target} ms ' + verdict if target else '-'}",
            flush=True,
        )
    engine.dispose()
    if args.url is None and not args.keep and not args.reuse:
        admin = get_engine(str(make_url(url).set(database="postgres")))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            from sqlalchemy import text

            conn.execute(text(f"DROP DATABASE {make_url(url).database} WITH (FORCE)"))
        print(f"dropped database {make_url(url).database}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
