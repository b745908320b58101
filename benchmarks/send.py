"""Send one issue to N synthetic subscribers through real Celery workers, Redis and the SendGrid stand-in.

    python benchmarks/send.py --subscribers 100000 [--json out.json] [--png out.png] [--workers 2]
        [--batch-size 1000] [--database-url URL] [--broker-url redis://127.0.0.1:6379/12] [--profile]
        [--sink standin|null] [--floor]

What it does, in order: drops and recreates the schema in the `bench` database (PostgreSQL only), COPYs N
active subscribers (a third each ko/en/both), drafts an issue from the sample feeds, starts the stand-in
(`mailer standin --validate-sample 0.01 --record FILE`) and W workers (`mailer worker -Q send -c 1 -P solo`),
then times the send from `mailer issue send` (delivery.facade.send_now) until the issue is `sent`.

Figures (all wall-clock on a shared 2-core machine, so noisy):
- recipients_per_second: N / (time from the send starting to the issue observed `sent`, polled every 50 ms);
- start_seconds: `facade.send_now`: each edition's ledger (one INSERT ... SELECT, rows filed into batches)
  committed and its batches enqueued in turn, while workers already send the first; in this
  process; that is also the only database time measured directly (pg_stat_statements is off); commits
  (pg_stat_database) and rows inserted and updated (pg_stat_user_tables) are counted over the send;
- task_seconds p50/p95/p99: each send_batch task's run time as Celery logs it ("succeeded in"): lease,
  read recipients, sign tokens, build JSON, POST, mark deliveries, commit;
- queue_to_accept_seconds p50/p95/p99: from the batch row's created_at (cut) to the stand-in recording it
  (observed by tailing the record file every 10 ms): includes the time a batch waits in the queue;
- peak RSS (VmHWM) of each worker and of the stand-in, read just before they are stopped, and each
  worker's RSS (VmRSS) sampled every second of the send: flat, or growing with the list;
- CPU seconds used during the send by each worker, the stand-in, this process (the starter: ledger and
  enqueue) and the PostgreSQL backends of its database with the server's writers: where the machine's two cores went;
- lost / duplicates: the stand-in's record against the ledger and the active subscribers.
--sink null sends to benchmarks/floor.py's null sink (reads each body, answers 202) instead of the stand-in:
no record, so no lost/duplicate check and no cut-to-accepted times, but the sink's cost is the floor's.
--floor then runs benchmarks/floor.py (as many processes as workers) on the same database and reports
floor_seconds and ratio_to_floor (end to end / floor): like with like with --sink null. With the null
sink it also reports cpu_ratio_to_floor: the CPU seconds of the send (workers, sink, starter, PostgreSQL)
over the floor's (its processes, the sink, their PostgreSQL backends and the server's writers), which
other work on a shared machine sways less than wall-clock time.
--profile samples each worker and the stand-in with py-spy (bench extra) and prints the hot spots.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, required=True)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--png", type=Path, help="throughput plot (default: next to --json, or in the work dir)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench"
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument(
        "--timeout", type=float, default=900, help="give up on the send after this many seconds"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy each worker and the stand-in; print the hot spots",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (logs, record file)"
    )
    parser.add_argument(
        "--sink",
        choices=("standin", "null"),
        default="standin",
        help="where the workers post: the stand-in (validating 1%%, recording) or a null sink",
    )
    parser.add_argument(
        "--floor", action="store_true", help="also time benchmarks/floor.py; report the ratio"
    )
    return parser.parse_args(argv)


def py_spy() -> str | None:
    """py-spy's executable (the bench extra installs it beside this Python), or None."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def check_bench_extra(profile: bool) -> None:
    """Before any setup, what this run needs of the bench extra: matplotlib (the throughput plot, drawn at the
    end) and, with --profile, py-spy. Everything else it imports is the package's own dependencies."""
    missing = [] if importlib.util.find_spec("matplotlib") else ["matplotlib"]
    if profile and not py_spy():
        missing.append("py-spy")
    if missing:
        raise SystemExit(
            f"benchmarks/send.py needs {' and '.join(missing)}, from the bench extra: "
            "pip install -e '.[bench]'"
        )


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("this benchmark needs PostgreSQL (COPY)")
    check_bench_extra(args.profile)
    work = Path(tempfile.mkdtemp(prefix="mailer-send-bench-"))
    os.environ.update(
        {
            "MAILER_DATABASE_URL": args.database_url,
            "MAILER_BROKER_URL": args.broker_url,
            "MAILER_MAIL_BACKEND": "sendgrid",
            "MAILER_BATCH_SIZE": str(args.batch_size),
            "MAILER_SECRET_KEY": "bench-secret-key",
            "MAILER_PUBLIC_URL": "https://news.example.com",
            "MAILER_ENV": "development",
            "MAILER_LOG_FORMAT": "text",
        }
    )
    import _stack as st

    st.check_local(args.database_url)
    st.check_local(args.broker_url)
    import redis

    try:
        redis.Redis.from_url(
            args.broker_url, socket_connect_timeout=2
        ).flushdb()  # our own DB number only
    except redis.ConnectionError as e:
        raise SystemExit(
            f"no Redis answers at {args.broker_url} ({e}): start one (Debian/Ubuntu: "
            "apt-get install redis-server) or pass --broker-url"
        ) from None

    t = time.perf_counter()
    st.fresh_schema(args.database_url)
    copy_s = st.copy_subscribers(args.database_url, args.subscribers)
    number = st.draft_from_samples(work)
    print(
        f"setup: schema + {args.subscribers:,} subscribers by COPY in {copy_s:.2f} s, issue #{number} drafted "
        f"({time.perf_counter() - t:.1f} s in all)",
        flush=True,
    )

    record = work / "record.jsonl"
    stack = st.Stack(dict(os.environ), work)
    results: dict = {
        "subscribers": args.subscribers,
        "workers": args.workers,
        "batch_size": args.batch_size,
        "sink": args.sink,
        "command": " ".join(["python", "benchmarks/send.py", *(argv or sys.argv[1:])]),
    }
    spies: list[tuple[subprocess.Popen, Path]] = []
    null_sink = None
    try:
        if args.floor or args.sink == "null":
            import floor

            null_sink, null_port = floor.start_null_sink()
        if args.sink == "null":
            url = f"http://127.0.0.1:{null_port}"
            stack.procs["standin"] = (null_sink, open(os.devnull, "w"))  # noqa: SIM115 - read, stopped like the stand-in
        else:
            url, _ = st.start_standin(stack, record, "--validate-sample", "0.01")
        stack.env.update({"MAILER_SENDGRID_HOST": url, "MAILER_SENDGRID_API_KEY": st.API_KEY})
        os.environ.update({"MAILER_SENDGRID_HOST": url, "MAILER_SENDGRID_API_KEY": st.API_KEY})
        names = [f"worker{i}" for i in range(args.workers)]
        for name in names:
            stack.start(
                name,
                "worker",
                "-Q",
                "send",
                "-c",
                "1",
                "-P",
                "solo",
                "-n",
                f"{name}@%h",
                "--loglevel",
                "info",
            )
        # the broker as this process's settings name it
        st.wait_workers(st.runtime().tasks.celery, args.workers)
        if args.profile:
            spy = py_spy()
            for name in [*names, "standin"]:
                out = work / f"{name}.pyspy.txt"
                spies.append(
                    (
                        subprocess.Popen(
                            [
                                spy,
                                "record",
                                "-p",
                                str(stack.pid(name)),
                                "-f",
                                "raw",
                                "-o",
                                str(out),
                                "-r",
                                "200",
                                "--nonblocking",
                            ],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        ),
                        out,
                    )
                )
            time.sleep(1.0)

        record.touch()  # the null sink records nothing: the tail then sees no line
        tail = st.RecordTail(record)
        tail.start()
        # An idle backend reports its counts to pg_stat_* up to 10 s late; one that exits, at once: the setup's
        # connections close before the first reading, the send's are waited for before the second.
        from mailer.db import get_engine

        get_engine(args.database_url).dispose()
        time.sleep(0.5)
        pg_before = st.pg_counters(args.database_url)
        procs, dbname = [*names, "standin"], args.database_url.rsplit("/", 1)[1].split("?")[0]
        cpu_before = {n: st.cpu_seconds(stack.pid(n)) for n in procs}
        cpu_before.update(
            starter=st.cpu_seconds(os.getpid()), postgres=st.postgres_cpu_seconds(dbname)
        )
        sampler = st.RssSampler({n: stack.pid(n) for n in names})
        sampler.start()
        results.update(run_send(args, number, st))
        sampler.stopping.set()
        sampler.join(timeout=5)
        results["worker_rss_mb_during_send"] = sampler.summary()
        cpu_after = {n: st.cpu_seconds(stack.pid(n)) for n in procs}
        cpu_after.update(
            starter=st.cpu_seconds(os.getpid()), postgres=st.postgres_cpu_seconds(dbname)
        )
        # None for a process that died; PostgreSQL's sum can shrink if a backend exits in between
        results["cpu_seconds"] = {
            n: round(cpu_after[n] - cpu_before[n], 2)
            if None not in (cpu_after[n], cpu_before[n])
            else None
            for n in cpu_after
        }
        tail.stopping.set()
        tail.join(timeout=30)
        time.sleep(11)
        pg_after = st.pg_counters(args.database_url)
        results["pg_stat_database_delta"] = {
            k: round(float(pg_after[k] - pg_before[k]), 1) for k in pg_after
        }

        results["task_seconds"] = st.percentiles(task_times(stack, names))
        results["queue_to_accept_seconds"] = st.percentiles(
            queue_to_accept(tail.seen)
        )  # empty for the null sink
        results["peak_rss_mb"] = {
            name: st.peak_rss_mb(stack.pid(name)) for name in [*names, "standin"]
        }
        results["peak_worker_rss_mb"] = max((results["peak_rss_mb"][n] or 0) for n in names)
        for proc, _ in spies:
            proc.send_signal(2)  # SIGINT: py-spy writes its file and exits
        for proc, _ in spies:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        png = args.png or (
            (args.json.with_suffix(".png")) if args.json else work / "throughput.png"
        )
        st.throughput_png(
            tail.seen,
            results.pop("_t0"),
            png,
            f"send of {args.subscribers:,} through {args.workers} worker(s)",
        )
        results["png"] = str(png)
        if args.sink == "standin":
            results.update(st.check_record(record, number))
        tracebacks = [n for n in names if "Traceback" in stack.log(n)]
        results["worker_tracebacks"] = tracebacks
        stack.stop(names)
        if args.floor:
            found = floor.run(args.database_url, args.workers, null_port, null_sink.pid)
            results["floor_seconds"] = found["seconds"]
            results["ratio_to_floor"] = round(results["end_to_end_seconds"] / found["seconds"], 2)
            # On a shared machine the wall-clock ratio swings with the others' load; CPU seconds less so
            results["floor_cpu_seconds"] = found["cpu_seconds"]
            if args.sink == "null":
                send_cpu = sum(v for v in results["cpu_seconds"].values() if v is not None)
                results["cpu_ratio_to_floor"] = round(
                    send_cpu / sum(found["cpu_seconds"].values()), 2
                )
    finally:
        for proc, _ in spies:
            if proc.poll() is None:
                proc.kill()
        stack.stop()
        if null_sink and null_sink.poll() is None:
            null_sink.kill()

    report(results)
    if args.profile:
        for _, out in spies:
            if out.exists():
                print(f"\nhot spots in {out.name} (function, self %, inclusive %):")
                for fn, self_pct, incl_pct in st.collapsed_hotspots(out, 20):
                    print(f"  {self_pct:5.1f} {incl_pct:5.1f}  {fn}")
                needles = [
                    "_lease",
                    "_recipients",
                    "tokens.py",
                    "build_payload",
                    "json/encoder",
                    "sendgrid.py",
                    "_set_deliveries",
                    "finish_issue_if_done",
                    "http/client",
                    "python_http_client",
                    "urllib/request",
                    "psycopg",
                    "sqlalchemy",
                    "kombu",
                    "celery/app/trace",
                    "redis",
                ]
                print(
                    "  inclusive: "
                    + ", ".join(f"{k}={v}%" for k, v in st.inclusive_hotspots(out, needles).items())
                )
        results["profiles"] = [str(out) for _, out in spies]
    st.finish(
        results, args.json, work, args.keep or args.profile
    )  # profiles are read from the work directory
    if args.sink == "null":
        return 0 if results["issue_status"] == "sent" else 1
    return 0 if results["lost"] == 0 and results["duplicates"] == 0 else 1


def run_send(args, number: int, st) -> dict:
    """What `mailer issue send N` does (facade.send_now), split so each phase is timed."""
    from sqlalchemy import select

    from mailer.delivery import facade
    from mailer.issues.models import Issue

    rt = st.runtime()  # the benchmark environment, read afresh
    t0 = time.time()
    # each edition's ledger is written and its batches enqueued in turn: workers start on the first
    # edition while the next ledger is written
    batch_ids = facade.send_now(rt, number)
    t1 = time.time()
    print(
        f"send started: {len(batch_ids)} batches written and enqueued in {t1 - t0:.2f} s",
        flush=True,
    )
    status, deadline = None, t0 + args.timeout
    with rt.session() as session:
        while time.time() < deadline:
            status = session.scalar(select(Issue.status).where(Issue.number == number))
            if status in ("sent", "failed", "cancelled", "paused"):
                break
            session.rollback()  # a fresh snapshot next time
            time.sleep(0.05)
    t3 = time.time()
    if status != "sent":
        print(f"issue #{number} ended {status!r} after {t3 - t0:.1f} s", file=sys.stderr)
    return {
        "_t0": t0,
        "issue_status": status,
        "batches": len(batch_ids),
        "end_to_end_seconds": round(t3 - t0, 3),
        "recipients_per_second": round(args.subscribers / (t3 - t0), 1),
        "start_seconds": round(t1 - t0, 3),
    }


_SUCCEEDED = re.compile(r"mailer\.send_batch\[[^\]]+\] succeeded in ([0-9.]+)s")


def task_times(stack, names: list[str]) -> list[float]:
    return [float(m) for n in names for m in _SUCCEEDED.findall(stack.log(n))]


def queue_to_accept(seen) -> list[float]:
    import _stack as st
    from sqlalchemy import select

    from mailer.delivery.models import Batch

    with st.runtime().session() as session:
        created = {
            bid: c.timestamp() for bid, c in session.execute(select(Batch.id, Batch.created_at))
        }
    return [t - created[bid] for t, _, bid in seen if bid in created]


def report(r: dict) -> None:
    print(
        f"\nsend of {r['subscribers']:,} recipients, {r['workers']} worker(s), batches of {r['batch_size']}:"
    )
    print(f"  issue status:            {r['issue_status']}")
    print(
        f"  end to end:              {r['end_to_end_seconds']:.2f} s = {r['recipients_per_second']:,.0f} recipients/s"
    )
    print(
        f"  ledger + enqueue:        {r['start_seconds']:.2f} s ({r['batches']} batches; sending overlaps it)"
    )
    ts, qa = r["task_seconds"], r["queue_to_accept_seconds"]
    print(f"  send_batch task time:    p50 {ts['p50']} s, p95 {ts['p95']} s, p99 {ts['p99']} s")
    print(f"  batch cut -> accepted:   p50 {qa['p50']} s, p95 {qa['p95']} s, p99 {qa['p99']} s")
    print(
        "  peak RSS (VmHWM):        "
        + ", ".join(f"{k} {v} MB" for k, v in r["peak_rss_mb"].items())
    )
    for name, rss in r["worker_rss_mb_during_send"].items():
        print(
            f"  {name} RSS (VmRSS) in the send: {rss['first']} MB at the start, "
            f"{' / '.join(str(q) for q in rss['quarters'])} MB at 1/4, 1/2, 3/4, {rss['last']} MB at the "
            f"end, max {rss['max']} MB ({rss['samples']} samples, one a second)"
        )
    print(
        "  CPU seconds during send: " + ", ".join(f"{k} {v}" for k, v in r["cpu_seconds"].items())
    )
    pg = r["pg_stat_database_delta"]
    print(
        f"  database (the send):     {pg['xact_commit']:.0f} commits, {pg['tup_inserted']:.0f} rows inserted, "
        f"{pg['tup_updated']:.0f} updated ({pg['tup_hot_updated']:.0f} in place)"
    )
    if "lost" in r:
        print(
            f"  record vs ledger:        lost {r['lost']}, duplicates {r['duplicates']}, unexpected {r['unexpected']} "
            f"({r['recipients_recorded']:,} recorded, {r['ledger_rows']:,} in the ledger)"
        )
    else:
        print(
            "  record vs ledger:        not checked: the null sink keeps no record (run with the stand-in)"
        )
    if "floor_seconds" in r:
        print(
            f"  floor (benchmarks/floor.py, {r['workers']} processes): {r['floor_seconds']:.2f} s; "
            f"ratio to the floor {r['ratio_to_floor']:.2f} ({r['sink']} sink)"
        )
        fc = r["floor_cpu_seconds"]
        print(
            "  floor CPU seconds:       "
            + ", ".join(f"{k} {v}" for k, v in fc.items())
            + (
                f"; the send's CPU seconds (all of the above) over the floor's: {r['cpu_ratio_to_floor']:.2f}"
                if "cpu_ratio_to_floor" in r
                else ""
            )
        )
    if r["worker_tracebacks"]:
        print(f"  tracebacks in: {r['worker_tracebacks']}")
    print(f"  throughput plot:         {r['png']}")


if __name__ == "__main__":
    sys.exit(main())
