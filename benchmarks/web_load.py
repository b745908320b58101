"""Load on the two public write endpoints, RFC 8058 one-click unsubscribe and sign-up, on PostgreSQL.

    python benchmarks/web_load.py [--subscribers 40000] [--seconds 10] [--concurrency 16] [--workers 2]
        [--json out.json] [--database-url URL] [--broker-url URL]

The stack, as production runs it: the schema recreated in the `bench` database and the subscribers COPYed
in, then `mailer serve --workers K` (uvicorn, one process per core) on 127.0.0.1 with MAILER_ENV=production
and a Redis broker (its own database number, flushed before and after), so sign-up rate limits are shared
by the web processes and confirmation mails are queued, not sent, as with a Celery worker.

The client is wrk (`apt-get install wrk`) with a Lua script this file writes: the machine has 2 cores
shared by the client, the web processes and PostgreSQL, and wrk costs a small fraction of a Python client's
CPU. Each of `--concurrency` connections sends its next request when the last one is answered (closed loop).
A second of GET /unsubscribe/{token} (which changes nothing) warms the processes' database pools first.
Then two phases of `--seconds` each:

- unsubscribe: POST /unsubscribe/{token} with body `List-Unsubscribe=One-Click` (form-urlencoded), as a
  mailbox provider sends it; every request for a different active subscriber (tokens signed here with the
  benchmark's secret key), so each one really unsubscribes someone (a run that answers more requests
  than there are subscribers stops with an error: the repeats would take the cheaper already-done path);
- subscribe: POST /subscribe with a new address, a language and the form's CSRF token. Sign-ups are rate
  limited per client IP (10 at once, then 20 an hour); `mailer serve` trusts X-Forwarded-For from
  127.0.0.1, so each request claims its own client address.

Figures, per phase: requests/s (answers counted by wrk over the phase's duration), latency p50/p90/p99 and
max in ms (wrk's histogram of every answer, from the request written to the answer read), the status codes
seen, and the CPU each party used in cores (web processes, PostgreSQL's processes, the wrk client, and the
whole machine, which also counts the kernel's loopback networking that no process is charged for: a
`machine` figure near 2 with the others' sum far below it can also mean something else was running).
Then the database is checked: subscribers unsubscribed and one-click history rows (each at least the
unsubscribe answers: requests in flight when wrk stopped still took effect), and sign-ups pending.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# One Lua script per phase, the values written in: wrk hands its arguments only to the threads' states, and
# done() (which writes the figures) runs in another. Each thread takes every n-th line of the work file.
LUA = r"""
local PATHS_FILE, OUT, NTHREADS, BODY_KIND = %(paths)s, %(out)s, %(threads)d, %(kind)s
local FORM = {["Content-Type"] = "application/x-www-form-urlencoded"}
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  nthreads = NTHREADS
  lines, sent, codes = {}, 0, {}
  local k = 0
  for line in io.lines(PATHS_FILE) do
    if k %% nthreads == id then lines[#lines + 1] = line end
    k = k + 1
  end
end

function request()
  sent = sent + 1
  local line = lines[sent] or lines[#lines]  -- past the end: repeats (the Python side says so)
  if BODY_KIND == "one-click" then
    return wrk.format("POST", line, FORM, "List-Unsubscribe=One-Click")
  elseif BODY_KIND == "none" then
    return wrk.format("GET", line)
  end
  local n = id + nthreads * sent  -- a new address and client address for every request
  local headers = {["Content-Type"] = FORM["Content-Type"],
                   ["X-Forwarded-For"] = string.format("10.%%d.%%d.%%d", math.floor(n / 65536) %% 256,
                                                       math.floor(n / 256) %% 256, n %% 256)}
  local pre_session, field = line:match("([^|]*)|(.*)")  -- the form's token is bound to its cookie
  headers["Cookie"] = "mailer_pre=" .. pre_session
  local langs = {"ko", "en", "both"}
  return wrk.format("POST", "/subscribe", headers,
                    string.format("email=new%%d%%%%40load.example&lang=%%s&%%s", n, langs[n %% 3 + 1], field))
end

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end

function done(summary, latency, requests)
  local all = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("codes")) do all[status] = (all[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(all) do parts[#parts + 1] = string.format('"%%d": %%d', status, n) end
  local e = summary.errors
  local f = io.open(OUT, "w")
  f:write(string.format('{"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, '
    .. '"max_us": %%d, "status_codes": {%%s}, "socket_errors": {"connect": %%d, "read": %%d, "write": %%d, '
    .. '"timeout": %%d}}', summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, table.concat(parts, ", "), e.connect, e.read, e.write, e.timeout))
  f:close()
end
"""


class CpuMeter:
    """CPU seconds of the web processes, PostgreSQL's processes and wrk over a phase, and the machine's."""

    def __init__(self, web_pid: int):
        self.web_pid = web_pid

    def _processes(self) -> dict[str, float]:
        import psutil

        web = psutil.Process(self.web_pid)
        totals = {"web": 0.0, "postgres": 0.0}
        for proc in [web, *web.children(recursive=True)]:
            totals["web"] += _cpu(proc)
        for proc in psutil.process_iter(["name"]):
            if proc.info["name"] == "postgres":
                totals["postgres"] += _cpu(proc)
        client = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has been waited for
        totals["client"] = client.ru_utime + client.ru_stime
        return totals

    def __enter__(self):
        import psutil

        self.t0, self.before = time.perf_counter(), self._processes()
        self.machine0 = psutil.cpu_times()
        return self

    def __exit__(self, *exc):
        import psutil

        elapsed = time.perf_counter() - self.t0
        after, machine = self._processes(), psutil.cpu_times()
        self.cores = {k: round((after[k] - self.before[k]) / elapsed, 2) for k in after}
        busy = sum(machine) - machine.idle - machine.iowait
        busy0 = sum(self.machine0) - self.machine0.idle - self.machine0.iowait
        self.cores["machine"] = round((busy - busy0) / elapsed, 2)


def _cpu(proc) -> float:
    import psutil

    try:
        t = proc.cpu_times()
        return t.user + t.system
    except psutil.Error:  # gone meanwhile
        return 0.0


def run_wrk(
    name: str,
    base: str,
    work: Path,
    lines: list[str],
    kind: str,
    *,
    seconds: float,
    concurrency: int,
    threads: int,
    web_pid: int,
) -> dict:
    paths, out = work / f"{name}.txt", work / f"{name}.json"
    paths.write_text("\n".join(lines) + "\n")
    script = work / f"{name}.lua"
    script.write_text(
        LUA
        % {
            "paths": json.dumps(str(paths)),
            "out": json.dumps(str(out)),
            "threads": threads,
            "kind": json.dumps(kind),
        }
    )
    command = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(concurrency),
        "-d",
        f"{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base,
    ]
    with CpuMeter(web_pid) as cpu:
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0 or not out.exists():
        raise SystemExit(
            f"wrk failed ({finished.returncode}): {finished.stderr or finished.stdout}"
        )
    raw = json.loads(out.read_text())
    elapsed = raw["duration_us"] / 1e6
    result = {
        "requests": raw["requests"],
        "seconds": round(elapsed, 2),
        "requests_per_second": round(raw["requests"] / elapsed, 1) if elapsed else 0.0,
        "latency_ms": {k: round(raw[f"{k}_us"] / 1000, 1) for k in ("p50", "p90", "p99", "max")},
        "status_codes": raw["status_codes"],
        "socket_errors": raw["socket_errors"],
        "cpu_cores": cpu.cores,
    }
    lat = result["latency_ms"]
    print(
        f"{name:12s} {result['requests']:6d} requests in {elapsed:6.2f} s = {result['requests_per_second']:7.1f} "
        f"req/s; latency p50 {lat['p50']} ms, p90 {lat['p90']} ms, p99 {lat['p99']} ms, max {lat['max']} ms; "
        f"status {result['status_codes']}; CPU cores {cpu.cores}",
        flush=True,
    )
    return result


def web_peak_rss_mb(pid: int) -> float | None:
    """The largest peak resident set among the web processes (uvicorn's supervisor and its workers)."""
    import _stack as st
    import psutil

    try:
        pids = [pid, *(p.pid for p in psutil.Process(pid).children(recursive=True))]
    except psutil.Error:
        return None
    peaks = [p for p in (st.peak_rss_mb(x) for x in pids) if p is not None]
    return max(peaks) if peaks else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--subscribers", type=int, default=40_000, help="more than unsubscribes answered"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per endpoint")
    parser.add_argument("--concurrency", type=int, default=16, help="connections open at once")
    parser.add_argument(
        "--workers", type=int, default=2, help="`mailer serve --workers`: web processes"
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench"
    )
    parser.add_argument(
        "--broker-url", default="redis://127.0.0.1:6379/13", help="flushed: this benchmark's own"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work directory (logs, Lua scripts)"
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")

    work = Path(tempfile.mkdtemp(prefix="mailer-web-bench-"))
    os.environ.update(
        {
            "MAILER_DATABASE_URL": args.database_url,
            "MAILER_BROKER_URL": args.broker_url,
            "MAILER_MAIL_BACKEND": "outbox",
            "MAILER_OUTBOX_DIR": str(work / "outbox"),
            "MAILER_SECRET_KEY": "bench-secret-key",
            "MAILER_PUBLIC_URL": "https://news.example.com",
            "MAILER_ENV": "production",
        }
    )
    import _stack as st
    import redis

    st.check_local(args.database_url)
    st.check_local(args.broker_url)
    broker = redis.Redis.from_url(args.broker_url)
    broker.flushdb()  # our own database number only
    st.fresh_schema(args.database_url)
    st.copy_subscribers(args.database_url, args.subscribers)

    from mailer.config import get_settings
    from mailer.web import csrf
    from subscribers import tokens

    get_settings.cache_clear()
    settings = get_settings()  # this script's entry point: the environment set above
    # Ids are 1..N on a fresh schema, in COPY order.
    unsubscribe_paths = [
        f"/unsubscribe/{tokens.make_token(tokens.UNSUBSCRIBE, i + 1, settings)}"
        for i in range(args.subscribers)
    ]
    port = st.free_port()
    stack = st.Stack(dict(os.environ), work)
    stack.start("web", "serve", "--port", str(port), "--workers", str(args.workers))
    base = f"http://127.0.0.1:{port}"
    results: dict = {
        "server": f"mailer serve --workers {args.workers}",
        "client": f"wrk -t {args.threads}",
        "concurrency": args.concurrency,
        "subscribers": args.subscribers,
        "cpus": os.cpu_count(),
        "command": " ".join(["python", "benchmarks/web_load.py", *(argv or sys.argv[1:])]),
    }
    common = {
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "threads": args.threads,
        "web_pid": stack.pid("web"),
    }
    try:
        st.wait_http(base + "/healthz")
        print(
            f"{results['server']} on {base}, PostgreSQL, {args.subscribers:,} subscribers, "
            f"concurrency {args.concurrency}, {results['client']}"
        )
        run_wrk("warm-up", base, work, unsubscribe_paths[-200:], "none", **{**common, "seconds": 1})
        results["unsubscribe"] = run_wrk(
            "unsubscribe", base, work, unsubscribe_paths, "one-click", **common
        )
        if results["unsubscribe"]["requests"] > args.subscribers:
            raise SystemExit(
                f"{results['unsubscribe']['requests']} unsubscribes answered for {args.subscribers} "
                "subscribers: the repeats do less work; run again with more --subscribers"
            )
        pre_session = secrets.token_urlsafe(32)  # one browser, as far as the form can tell
        bound = csrf.issue(settings, csrf.SUBSCRIBE, csrf.pre_session_subject(pre_session))
        csrf_field = f"{pre_session}|csrf_token={bound}"
        results["subscribe"] = run_wrk("subscribe", base, work, [csrf_field], "sign-up", **common)
        results["peak_web_rss_mb"] = web_peak_rss_mb(stack.pid("web"))
        from sqlalchemy import func, select

        from subscribers.models import Change, Subscriber

        with st.runtime().session() as session:
            results["unsubscribed_in_db"] = session.scalar(
                select(func.count()).where(Subscriber.status == "unsubscribed")
            )
            results["one_click_history_rows"] = session.scalar(
                select(func.count()).where(
                    Change.action == "unsubscribed", Change.source == "one-click"
                )
            )
            results["pending_in_db"] = session.scalar(
                select(func.count()).where(Subscriber.status == "pending")
            )
        print(
            f"in the database: {results['unsubscribed_in_db']} unsubscribed "
            f"({results['one_click_history_rows']} one-click history rows), {results['pending_in_db']} pending; "
            f"web peak RSS {results['peak_web_rss_mb']} MB"
        )
    finally:
        stack.stop()
        broker.flushdb()  # the confirmation mails queued for no worker
    st.finish(results, args.json, work, args.keep)
    # every answered one-click took effect, with exactly one history row each (requests still in flight when
    # wrk stopped may have taken effect too)
    answered = results["unsubscribe"]["status_codes"].get("200", 0)
    consistent = results["one_click_history_rows"] == results["unsubscribed_in_db"] >= answered
    if not consistent:
        print("the database does not match the answers", file=sys.stderr)
    return 0 if consistent else 1


if __name__ == "__main__":
    sys.exit(main())
