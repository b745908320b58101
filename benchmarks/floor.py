"""The floor: the least any Python sender must do per recipient, on this machine, today.

    python benchmarks/floor.py [--subscribers 1000000] [--processes 2] [--json out.json] [--database-url URL]

P processes (as many as the send benchmark's workers), no Celery, no ledger states, no SQLAlchemy. Each
takes its share of the active subscribers (an id range) a block of 10 batches at a time: one INSERT ...
SELECT files the block into a ledger table, each row in its batch of 1000, as the send's ledger is
written (RETURNING hands the rows back, where a send's tasks read them again). Then, batch by batch, it
does what a send_batch task does per recipient, with the project's own functions: one LINKS token for
all three links (subscribers.tokens.shared_link_maker), the SendGrid JSON (mailer.mail.sendgrid's
build_payload, encoded with orjson), POSTed on one keep-alive connection to the null sink (another
process that reads the body and answers 202). So the floor never does more work than the project for
the same step. An earlier floor signed an itsdangerous token per recipient, encoded with the stdlib json
and COPYed each ledger row from the client: about twice the time of this one, which flattered the send's
ratio to it.
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
BLOCK = 10  # batches per ledger statement (the send writes blocks of 10, then of 100)
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


def _settings():
    from mailer.config import Settings

    return Settings(
        secret_key="floor-secret-key-floor-secret-key-0123",
        public_url="https://news.example.com",
        _env_file=None,
    )


def _body(rows: list, links) -> bytes:
    """One request's body, built as mailer.delivery.batches and mailer.mail.sendgrid build a batch's."""
    import orjson

    from mailer.mail.message import OutgoingBatch, Recipient
    from mailer.mail.sendgrid import build_payload

    recipients = []
    for ledger_id, subscriber_id, email in rows:
        unsubscribe, preferences, switch = links(subscriber_id)
        recipients.append(
            Recipient(
                delivery_id=ledger_id,
                email=email,
                substitutions={
                    "-unsubscribe_url-": unsubscribe,
                    "-preferences_url-": preferences,
                    "-edition_url-": switch,
                },
                headers={"List-Unsubscribe": f"<{unsubscribe}>"},
                custom_args={"delivery_id": str(ledger_id)},
            )
        )
    batch = OutgoingBatch(
        lang="en",
        from_email="news@example.com",
        from_name="News",
        subject="Weekly",
        html="<p>-unsubscribe_url- -preferences_url- -edition_url-/ko</p>",
        text="-unsubscribe_url- -preferences_url- -edition_url-/ko",
        recipients=recipients,
    )
    return orjson.dumps(build_payload(batch))


def _part(job: tuple[str, int, int, int]) -> tuple[int, float, float]:
    """One process's share, subscribers lo..hi: returns recipients posted, the CPU seconds this process
    used and those its PostgreSQL backend used (read before the connection closes and it exits)."""
    import _stack as st
    import psycopg

    from mailer.delivery.batches import LINK_PAGES
    from mailer.mail.sendgrid import JSON_UTF8
    from subscribers import tokens

    url, port, lo, hi = job
    settings = _settings()
    null = http.client.HTTPConnection("127.0.0.1", port)
    sent, cpu = 0, time.process_time()
    with psycopg.connect(_dsn(url)) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        backend_cpu = st.cpu_seconds(backend) or 0.0
        after, block = lo - 1, 0
        while True:
            # the ledger as a send writes it, a block of batches at a time: one statement files each
            # row into its batch on the server
            rows = conn.execute(
                f"INSERT INTO {LEDGER} (subscriber_id, email, batch) "
                "SELECT id, email, %s + (row_number() OVER (ORDER BY id) - 1) / %s FROM subscribers "
                "WHERE status = 'active' AND id > %s AND id <= %s ORDER BY id LIMIT %s "
                "RETURNING id, subscriber_id, email",
                (lo + block * BLOCK, BATCH, after, hi, BATCH * BLOCK),
            ).fetchall()
            conn.commit()
            if not rows:
                break
            rows.sort()
            after, block = rows[-1][1], block + 1
            for start in range(0, len(rows), BATCH):
                links = tokens.shared_link_maker(LINK_PAGES, settings)  # one per batch, as a send
                body = _body(rows[start : start + BATCH], links)
                null.request("POST", "/v3/mail/send", body, JSON_UTF8)
                answer = null.getresponse()
                answer.read()
                if answer.status != 202:
                    raise SystemExit("the null sink did not answer 202")
                sent += len(rows[start : start + BATCH])
        backend_cpu = (st.cpu_seconds(backend) or backend_cpu) - backend_cpu
    return sent, time.process_time() - cpu, backend_cpu


def _warm(_: int) -> None:
    import orjson  # noqa: F401
    import psycopg  # noqa: F401

    import mailer.delivery.batches
    import mailer.mail.sendgrid  # noqa: F401

    _settings()


def run(url: str, processes: int, port: int, sink_pid: int | None = None) -> dict:
    """The floor on the subscribers already in the database: seconds, recipients, and the CPU seconds
    used by its processes, their PostgreSQL backends with the server's writers, and the sink (by pid)."""
    import _stack as st
    import psycopg

    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {LEDGER}")
        conn.execute(
            f"CREATE TABLE {LEDGER} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            "subscriber_id int, email text, batch int)"
        )
        lo, hi = conn.execute("SELECT min(id), max(id) FROM subscribers").fetchone()
    step = (hi - lo) // processes + 1
    jobs = [(url, port, lo + k * step, lo + (k + 1) * step - 1) for k in range(processes)]
    # spawned, not forked (the caller may hold threads and connections), and before the clock: no imports timed
    pool = multiprocessing.get_context("spawn").Pool(processes)
    try:
        pool.map(_warm, range(processes))
        writers, sink = st.postgres_cpu_seconds(None), sink_pid and st.cpu_seconds(sink_pid)
        t0 = time.perf_counter()
        parts = pool.map(_part, jobs)
        seconds = time.perf_counter() - t0
        writers = st.postgres_cpu_seconds(None) - writers
        sink = sink_pid and (st.cpu_seconds(sink_pid) or 0.0) - (sink or 0.0)
    finally:
        pool.close()
        pool.join()
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        conn.execute(f"DROP TABLE {LEDGER}")
    return {
        "recipients": sum(p[0] for p in parts),
        "seconds": round(seconds, 2),
        "processes": processes,
        "cpu_seconds": {
            "processes": round(sum(p[1] for p in parts), 2),
            "postgres": round(sum(p[2] for p in parts) + writers, 2),
            **({"sink": round(sink, 2)} if sink_pid else {}),
        },
    }


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
        results = run(args.database_url, args.processes, port, sink.pid)
    finally:
        sink.kill()
    print(
        f"floor: {results['recipients']:,} recipients in {results['seconds']:.2f} s with {args.processes} "
        f"process(es) = {results['recipients'] / results['seconds']:,.0f}/s; CPU seconds: "
        + ", ".join(f"{k} {v}" for k, v in results["cpu_seconds"].items())
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
