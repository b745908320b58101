"""The floor: the least any Python sender must do per recipient, on this machine, today.

    python benchmarks/floor.py [--subscribers 1000000] [--processes 2] [--json out.json] [--database-url URL]

P processes (as many as the send benchmark's workers), no Celery, no ledger states. Each streams its share
of the active subscribers from PostgreSQL (a server-side cursor over an id range), signs an unsubscribe
token for each (itsdangerous), builds SendGrid JSON in batches of 1000, POSTs each to the null sink (another
process that reads the body and answers 202), and COPYs one ledger row per recipient into a logged table.
benchmarks/send.py --floor runs it on the same database in the same run and reports the ratio.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

BATCH = 1000
LEDGER = "floor_ledger"


class _Null(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a client that posts 1,000 requests would use

    def do_GET(self):  # answered, so that _stack.wait_http sees the sink is up
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.send_header("X-Message-Id", "null")  # what a SendGrid client reads back
        self.end_headers()

    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def start_null_sink() -> tuple[subprocess.Popen, int]:
    """The null sink in its own process; returns it and its port once it answers."""
    import _stack as st

    port = st.free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--null-sink", str(port)])
    try:
        st.wait_http(f"http://127.0.0.1:{port}/", timeout=10)
    except SystemExit:
        proc.kill()
        raise
    return proc, port


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _part(job: tuple[str, int, int, int]) -> int:
    """One process's share, subscribers lo..hi: returns recipients posted."""
    import psycopg
    from itsdangerous import URLSafeTimedSerializer

    url, port, lo, hi = job
    signer = URLSafeTimedSerializer("floor-secret", salt="mailer.unsubscribe")
    null = http.client.HTTPConnection("127.0.0.1", port)
    sent = 0
    with psycopg.connect(_dsn(url)) as reader, psycopg.connect(_dsn(url)) as writer:
        with (
            reader.cursor(name="subscribers") as cur,
            writer.cursor().copy(f"COPY {LEDGER} (subscriber_id, email, batch) FROM STDIN") as copy,
        ):
            cur.execute(
                "SELECT id, email FROM subscribers WHERE status = 'active' AND id BETWEEN %s AND %s "
                "ORDER BY id",
                (lo, hi),
            )
            while rows := cur.fetchmany(BATCH):
                personalizations = []
                for subscriber_id, email in rows:
                    link = f"https://news.example.com/unsubscribe/{signer.dumps(subscriber_id)}"
                    personalizations.append(
                        {"to": [{"email": email}], "substitutions": {"-unsubscribe_url-": link}}
                    )
                    copy.write_row((subscriber_id, email, lo + sent // BATCH))
                body = json.dumps(
                    {
                        "personalizations": personalizations,
                        "from": {"email": "news@example.com"},
                        "subject": "Weekly",
                        "content": [{"type": "text/plain", "value": "-unsubscribe_url-"}],
                    }
                )
                null.request(
                    "POST", "/v3/mail/send", body.encode(), {"Content-Type": "application/json"}
                )
                answer = null.getresponse()
                answer.read()
                if answer.status != 202:
                    raise SystemExit("the null sink did not answer 202")
                sent += len(rows)
        writer.commit()
    return sent


def _warm(_: int) -> None:
    import itsdangerous  # noqa: F401
    import psycopg  # noqa: F401


def run(url: str, processes: int, port: int) -> dict:
    """The floor on the subscribers already in the database: seconds and recipients."""
    import psycopg

    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {LEDGER}")
        conn.execute(f"CREATE TABLE {LEDGER} (subscriber_id int, email text, batch int)")
        lo, hi = conn.execute("SELECT min(id), max(id) FROM subscribers").fetchone()
    step = (hi - lo) // processes + 1
    jobs = [(url, port, lo + k * step, lo + (k + 1) * step - 1) for k in range(processes)]
    # spawned, not forked (the caller may hold threads and connections), and before the clock: no imports timed
    pool = multiprocessing.get_context("spawn").Pool(processes)
    try:
        pool.map(_warm, range(processes))
        t0 = time.perf_counter()
        sent = sum(pool.map(_part, jobs))
        seconds = time.perf_counter() - t0
    finally:
        pool.close()
        pool.join()
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        conn.execute(f"DROP TABLE {LEDGER}")
    return {"recipients": sent, "seconds": round(seconds, 2), "processes": processes}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench"
    )
    parser.add_argument("--null-sink", type=int, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.null_sink:
        _Server(("127.0.0.1", args.null_sink), _Null).serve_forever()
        return 0
    os.environ.setdefault("MAILER_DATABASE_URL", args.database_url)
    import _stack as st

    st.check_local(args.database_url)
    st.fresh_schema(args.database_url)
    st.copy_subscribers(args.database_url, args.subscribers)
    sink, port = start_null_sink()
    try:
        results = run(args.database_url, args.processes, port)
    finally:
        sink.kill()
    print(
        f"floor: {results['recipients']:,} recipients in {results['seconds']:.2f} s with {args.processes} "
        f"process(es) = {results['recipients'] / results['seconds']:,.0f}/s"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
