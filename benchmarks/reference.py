"""The yardstick of issue 8: how fast is this machine today at the bare work of a send?

    python benchmarks/reference.py [--subscribers 1000000] [--json out.json] [--database-url URL]

One Python process, no Celery, no ledger states: streams the active subscribers from PostgreSQL
(server-side cursor), signs an unsubscribe token for each (itsdangerous), builds SendGrid JSON in batches
of 1000, POSTs each to a null server (another process that reads the body and answers 202), and COPYs a
ledger row per recipient. The issue measured "about 5 s" for 1M on the machine it set the targets on;
the send benchmark's figures read best beside this one's, taken the same day (the VM's speed varies).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

BATCH = 1000


class _Null(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a client that posts 1,000 requests would use

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def null_server(port: int) -> None:
    HTTPServer(("127.0.0.1", port), _Null).serve_forever()


def loop(url: str, port: int) -> int:
    """The reference send; returns recipients posted."""
    import psycopg
    from itsdangerous import URLSafeTimedSerializer

    signer = URLSafeTimedSerializer("reference-secret", salt="mailer.unsubscribe")
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    null = http.client.HTTPConnection("127.0.0.1", port)
    sent = 0
    with psycopg.connect(dsn) as reader, psycopg.connect(dsn) as writer:
        writer.execute("CREATE TEMP TABLE ref_ledger (subscriber_id int, email text, batch int)")
        with reader.cursor(name="subscribers") as cur, writer.cursor().copy(
                "COPY ref_ledger (subscriber_id, email, batch) FROM STDIN") as copy:
            cur.execute("SELECT id, email FROM subscribers WHERE status = 'active' ORDER BY id")
            while rows := cur.fetchmany(BATCH):
                personalizations = []
                for subscriber_id, email in rows:
                    link = f"https://news.example.com/unsubscribe/{signer.dumps(subscriber_id)}"
                    personalizations.append({"to": [{"email": email}], "substitutions": {"-unsubscribe_url-": link}})
                    copy.write_row((subscriber_id, email, sent // BATCH))
                body = json.dumps({"personalizations": personalizations, "from": {"email": "news@example.com"},
                                   "subject": "Weekly", "content": [{"type": "text/plain", "value": "-unsubscribe_url-"}]})
                null.request("POST", "/v3/mail/send", body.encode(), {"Content-Type": "application/json"})
                answer = null.getresponse()
                answer.read()
                if answer.status != 202:
                    raise SystemExit("the null server did not answer 202")
                sent += len(rows)
        writer.commit()
    return sent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench")
    parser.add_argument("--null-server", type=int, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.null_server:
        null_server(args.null_server)
        return 0
    os.environ.setdefault("MAILER_DATABASE_URL", args.database_url)
    import _stack as st

    st.check_local(args.database_url)
    st.fresh_schema(args.database_url)
    st.copy_subscribers(args.database_url, args.subscribers)
    port = st.free_port()
    server = subprocess.Popen([sys.executable, __file__, "--null-server", str(port)])
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        dbname = args.database_url.rsplit("/", 1)[1]
        cpu0 = (st.cpu_seconds(os.getpid()), st.cpu_seconds(server.pid), st.postgres_cpu_seconds(dbname))
        t0 = time.perf_counter()
        sent = loop(args.database_url, port)
        seconds = time.perf_counter() - t0
        cpu1 = (st.cpu_seconds(os.getpid()), st.cpu_seconds(server.pid), st.postgres_cpu_seconds(dbname))
    finally:
        server.kill()
    results = {
        "subscribers": sent, "seconds": round(seconds, 2), "recipients_per_second": round(sent / seconds),
        "cpu_seconds": dict(zip(("loop", "null_server", "postgres"), (round(b - a, 2) for a, b in zip(cpu0, cpu1)))),
    }
    print(f"reference loop: {sent:,} recipients in {seconds:.2f} s = {results['recipients_per_second']:,}/s "
          f"(the issue: about 5 s for 1M); CPU seconds: "
          + ", ".join(f"{k} {v}" for k, v in results["cpu_seconds"].items()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
