"""Load on the two public write endpoints: RFC 8058 one-click unsubscribe and sign-up, against PostgreSQL.

    python benchmarks/web_load.py [--subscribers 20000] [--requests 5000] [--concurrency 32] [--seconds 30]
        [--uvicorn-workers K] [--json out.json] [--database-url URL]

Recreates the schema in the `bench` database, COPYs the subscribers, starts `mailer serve` (or, with
--uvicorn-workers K, `uvicorn mailer.web.app:create_app --factory --workers K`, since `mailer serve` has no
workers option) on 127.0.0.1, then runs two phases with an asyncio httpx client (bounded concurrency, at most
--requests requests and --seconds seconds per phase):

- unsubscribe: POST /unsubscribe/{token} with body `List-Unsubscribe=One-Click` (form-urlencoded), each
  request for a different subscriber (tokens signed here with the same secret key);
- subscribe: POST /subscribe with a new address, a language and the form's CSRF token. Sign-ups are rate
  limited per client IP (10 at once, then 20 an hour) and there is no setting for it; `mailer serve` trusts
  X-Forwarded-For from 127.0.0.1 (uvicorn's proxy_headers), so each request claims its own client address.

Prints requests/s and latency p50/p95/p99 per endpoint, and the status codes seen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


async def phase(name: str, base: str, make_request, total: int, concurrency: int, seconds: float) -> dict:
    import httpx

    latencies: list[float] = []
    codes: Counter[int | str] = Counter()
    counter = iter(range(total))
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client):
        for i in counter:
            if time.perf_counter() > deadline:
                return
            method, path, kwargs = make_request(i)
            t = time.perf_counter()
            try:
                response = await client.request(method, path, **kwargs)
                codes[response.status_code] += 1
            except httpx.HTTPError as exc:
                codes[type(exc).__name__] += 1
                continue
            latencies.append(time.perf_counter() - t)

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30, trust_env=False) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    import _stack as st

    pct = {k: (round(v * 1000, 1) if v is not None else None) for k, v in st.percentiles(latencies).items()}
    result = {"requests": len(latencies), "seconds": round(elapsed, 2),
              "requests_per_second": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
              "latency_ms": pct, "status_codes": {str(k): v for k, v in codes.items()}}
    print(f"{name:12s} {result['requests']:6d} requests in {elapsed:6.2f} s = {result['requests_per_second']:7.1f} req/s; "
          f"latency p50 {pct['p50']} ms, p95 {pct['p95']} ms, p99 {pct['p99']} ms; status {result['status_codes']}",
          flush=True)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=5_000, help="per endpoint, at most")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0, help="per endpoint, at most")
    parser.add_argument("--uvicorn-workers", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench")
    args = parser.parse_args(argv)
    if args.requests > args.subscribers:
        raise SystemExit("--requests must not exceed --subscribers (one subscriber per unsubscribe)")

    work = Path(tempfile.mkdtemp(prefix="mailer-web-bench-"))
    os.environ.update({
        "MAILER_DATABASE_URL": args.database_url, "MAILER_BROKER_URL": "", "MAILER_MAIL_BACKEND": "outbox",
        "MAILER_OUTBOX_DIR": str(work / "outbox"), "MAILER_SECRET_KEY": "bench-secret-key",
        "MAILER_PUBLIC_URL": "https://news.example.com", "MAILER_ENV": "development", "MAILER_LOG_FORMAT": "text",
    })
    import _stack as st

    st.check_local(args.database_url)
    st.fresh_schema(args.database_url)
    st.copy_subscribers(args.database_url, args.subscribers)

    from mailer.web import csrf
    from subscribers import tokens

    port = st.free_port()
    stack = st.Stack(dict(os.environ), work)
    if args.uvicorn_workers:
        import subprocess

        log = open(work / "web.log", "w")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "mailer.web.app:create_app", "--factory",
                                 "--host", "127.0.0.1", "--port", str(port), "--proxy-headers",
                                 "--workers", str(args.uvicorn_workers), "--no-access-log"],
                                env=stack.env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
        stack.procs["web"] = (proc, log)
        server = f"uvicorn --workers {args.uvicorn_workers} --no-access-log"
    else:
        stack.start("web", "serve", "--port", str(port))
        server = "mailer serve"
    base = f"http://127.0.0.1:{port}"
    results: dict = {"server": server, "concurrency": args.concurrency, "subscribers": args.subscribers,
                     "command": " ".join(["python", "benchmarks/web_load.py", *(argv or sys.argv[1:])])}
    try:
        st.wait_http(base + "/healthz")
        unsubscribe_tokens = [tokens.make_token(tokens.UNSUBSCRIBE, i + 1) for i in range(args.requests)]
        csrf_token = csrf.issue(csrf.SUBSCRIBE)
        form = {"Content-Type": "application/x-www-form-urlencoded"}

        def unsubscribe(i):
            return "POST", f"/unsubscribe/{unsubscribe_tokens[i]}", {"content": b"List-Unsubscribe=One-Click",
                                                                     "headers": form}

        def subscribe(i):
            headers = {"X-Forwarded-For": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"}
            return "POST", "/subscribe", {"data": {"email": f"new{i}@load.example", "lang": ("ko", "en", "both")[i % 3],
                                                   "csrf_token": csrf_token}, "headers": headers}

        print(f"{server} on {base}, PostgreSQL, {args.subscribers:,} subscribers, concurrency {args.concurrency}")
        results["unsubscribe"] = asyncio.run(phase("unsubscribe", base, unsubscribe, args.requests, args.concurrency,
                                                   args.seconds))
        results["subscribe"] = asyncio.run(phase("subscribe", base, subscribe, args.requests, args.concurrency,
                                                 args.seconds))
        from sqlalchemy import func, select

        from mailer.db import session_scope
        from subscribers.models import Subscriber

        with session_scope() as session:
            results["unsubscribed_in_db"] = session.scalar(
                select(func.count()).where(Subscriber.status == "unsubscribed"))
            results["pending_in_db"] = session.scalar(select(func.count()).where(Subscriber.status == "pending"))
        results["peak_web_rss_mb"] = st.peak_rss_mb(stack.pid("web"))
        print(f"in the database: {results['unsubscribed_in_db']} unsubscribed, {results['pending_in_db']} pending; "
              f"web peak RSS {results['peak_web_rss_mb']} MB")
    finally:
        stack.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
