"""Shared by benchmarks/send.py and benchmarks/faults.py: a fresh PostgreSQL schema, subscribers by COPY,
an issue drafted from the sample feeds, processes started as ops would start them, and the
stand-in's record file checked against the ledger.

Import this module only after MAILER_* variables are set: mailer's settings and Celery app read them
at import time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "mailer" / "demo" / "samples"
API_KEY = "SG.bench-standin"
LANGS = ("ko", "en", "both")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_local(url: str) -> None:
    """Benchmarks touch only this machine."""
    if "127.0.0.1" not in url and "localhost" not in url:
        raise SystemExit(f"refusing a non-local URL: {url}")


# --- database ---------------------------------------------------------------------------------


def create_database_if_missing(url: str) -> None:
    """CREATE DATABASE for the URL's database when the server has none by that name (asked through the
    server's `postgres` maintenance database, in autocommit: CREATE DATABASE runs outside a transaction)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    name = target.database
    if not name or name == "postgres":
        return
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if (
                conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
                is None
            ):
                conn.execute(
                    text(f"CREATE DATABASE {conn.dialect.identifier_preparer.quote(name)}")
                )
                print(f"created database {name}", flush=True)
    finally:
        admin.dispose()


def fresh_schema(url: str) -> None:
    from sqlalchemy import text

    from mailer.db import get_engine, upgrade_database

    create_database_if_missing(url)
    with get_engine(url).begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade_database(url)


def copy_subscribers(url: str, n: int, chunk: int = 50_000) -> float:
    """N active subscribers, a third each ko/en/both, by COPY on the raw psycopg connection; returns seconds."""
    from mailer.db import get_engine

    t0 = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    raw = get_engine(url).raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            with cur.copy(
                "COPY subscribers (email, lang, status, consent_source, created_at, updated_at, "
                "confirmed_at) FROM STDIN"
            ) as copy:
                for start in range(0, n, chunk):
                    copy.write(
                        "".join(
                            f"reader{i}@bench.example\t{LANGS[i % 3]}\tactive\tbench\t{stamp}\t{stamp}\t{stamp}\n"
                            for i in range(start, min(n, start + chunk))
                        )
                    )
            cur.execute("ANALYZE subscribers")
        conn.commit()
    finally:
        raw.close()
    return time.perf_counter() - t0


def runtime():
    """This benchmark process's Runtime, from the environment it has set up (a script is an entry point
    of its own): read afresh, since the benchmarks set MAILER_ variables as they go."""
    from mailer.config import get_settings
    from mailer.wiring import build_runtime

    get_settings.cache_clear()
    return build_runtime(get_settings())


def draft_from_samples(work: Path) -> int:
    """Ingest the bundled sample feeds (dates moved to this week, as the demo does) and draft an issue."""
    from mailer.articles.ingest import add_feed, ingest_all
    from mailer.db import utcnow
    from mailer.demo.run import NEWEST_AGE, rebase_dates
    from mailer.issues.service import draft_issue

    os.environ["MAILER_FEED_ALLOW_PRIVATE"] = "true"  # the sample feeds are files
    rt = runtime()
    settings = rt.settings
    with rt.session() as session:
        for lang in ("en", "ko"):
            path = work / f"{lang}.xml"
            path.write_text(
                rebase_dates((SAMPLES / f"{lang}.xml").read_text("utf-8"), utcnow() - NEWEST_AGE),
                "utf-8",
            )
            add_feed(session, str(path), lang, settings)
        session.commit()
        ingest_all(session, utcnow(), settings)
        issue = draft_issue(session, utcnow(), settings)
        if issue is None:
            raise SystemExit("no issue drafted from the sample feeds")
        session.commit()
        return issue.number


# --- processes --------------------------------------------------------------------------------


class Stack:
    """Child processes (python -m mailer.cli ...), each logging to its own file under `work`."""

    def __init__(self, env: dict, work: Path):
        self.env, self.work = env, work
        self.procs: dict[str, tuple[subprocess.Popen, object]] = {}

    def start(self, name: str, *args: str, extra_env: dict | None = None) -> subprocess.Popen:
        log = open(self.work / f"{name}.log", "w")  # noqa: SIM115 - closed in stop()
        env = {**self.env, **(extra_env or {})}
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailer.cli", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.work,
        )
        self.procs[name] = (proc, log)
        return proc

    def pid(self, name: str) -> int:
        return self.procs[name][0].pid

    def log(self, name: str) -> str:
        return (self.work / f"{name}.log").read_text(errors="replace")

    def alive(self, name: str) -> bool:
        return self.procs[name][0].poll() is None

    def stop(self, names=None, timeout: float = 20) -> None:
        names = list(names or self.procs)
        for name in names:
            proc, _ = self.procs[name]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name in names:
            proc, log = self.procs[name]
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            log.close()


def in_request(pid: int, port: int) -> bool:
    """Whether process `pid` holds an open TCP connection to 127.0.0.1:`port`: a sender mid-request (the
    SendGrid client opens one per request). Its sockets' inodes, looked up in the kernel's TCP table."""
    try:
        inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")}
    except OSError:
        return False
    wanted = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # remote address, state 01 = ESTABLISHED, inode
            if fields[2].endswith(wanted) and fields[3] == "01" and fields[9] in inodes:
                return True
    return False


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM: the process's peak resident set, read before it exits."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def rss_mb(pid: int) -> float | None:
    """VmRSS: the process's resident set now."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


class RssSampler(threading.Thread):
    """Each process's resident set every `interval` seconds while a send runs: whether a worker's memory
    stays flat over a long send, which its peak (VmHWM) alone cannot tell."""

    def __init__(self, pids: dict[str, int], interval: float = 1.0):
        super().__init__(daemon=True, name="rss-sampler")
        self.pids, self.interval = pids, interval
        self.samples: dict[str, list[float]] = {name: [] for name in pids}
        self.stopping = threading.Event()

    def run(self) -> None:
        while True:
            for name, pid in self.pids.items():
                mb = rss_mb(pid)
                if mb is not None:
                    self.samples[name].append(mb)
            if self.stopping.wait(self.interval):
                return

    def summary(self) -> dict[str, dict]:
        """Per process: the first sample, the samples at a quarter, half and three quarters of the send,
        the last, and the largest."""
        out = {}
        for name, values in self.samples.items():
            if values:
                n = len(values) - 1
                out[name] = {
                    "samples": len(values),
                    "first": values[0],
                    "quarters": [values[round(n * q / 4)] for q in (1, 2, 3)],
                    "last": values[-1],
                    "max": max(values),
                }
        return out


def finish(results: dict, json_path: Path | None, work: Path, keep: bool) -> None:
    """Every benchmark's last steps: the figures to --json, the work directory kept (--keep) or removed."""
    if json_path:
        json_path.write_text(json.dumps(results, indent=2))
        print(f"wrote {json_path}")
    if keep:
        print(f"work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(database: str | None) -> float:
    """CPU time of the live PostgreSQL backends connected to `database` and of the server's writers
    (other databases' backends, such as a test run's, are left out); None: the writers alone. A backend
    that has exited (a parallel worker, a closed connection) is not counted."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() != "postgres":
                    continue
                title = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
            except OSError:
                continue
            words = title.split()
            if (database is not None and database in words) or any(
                w in title for w in ("walwriter", "checkpointer", "background writer")
            ):
                total += cpu_seconds(int(entry.name)) or 0.0
    return total


def wait_http(url: str, timeout: float = 30) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            opener.open(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def wait_workers(app, n: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(app.control.ping(timeout=1.0) or []) >= n:
            return
        time.sleep(0.2)
    raise SystemExit(f"{n} worker(s) did not come up within {timeout:.0f} s")


def start_standin(stack: Stack, record: Path, *extra: str) -> tuple[str, str]:
    """`mailer standin` in its own process; returns (url, webhook public key)."""
    port = free_port()
    stack.start(
        "standin",
        "standin",
        "--port",
        str(port),
        "--record",
        str(record),
        "--api-key",
        API_KEY,
        *extra,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz")
    key = ""
    deadline = time.time() + 10
    while not key and time.time() < deadline:
        for line in stack.log("standin").splitlines():
            if line.startswith("webhook public key:"):
                key = line.split(":", 1)[1].strip()
        time.sleep(0.05)
    return url, key


class RecordTail(threading.Thread):
    """Timestamps each line of the stand-in's record file as it appears (the stand-in flushes each accepted
    request at once); the time is the benchmark's observation of the acceptance, within `interval`."""

    def __init__(self, path: Path, interval: float = 0.01):
        super().__init__(daemon=True, name="record-tail")
        self.path, self.interval = path, interval
        self.seen: list[tuple[float, int, int]] = []  # (time, recipients, batch_id)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.path.exists() and not self.stopping.wait(self.interval):
            pass
        with open(self.path, encoding="utf-8") as f:
            buffer = ""
            while True:
                chunk = f.read()
                now = time.time()
                if chunk:
                    buffer += chunk
                    *lines, buffer = buffer.split("\n")
                    for line in lines:
                        self.seen.append((now, *_line_summary(line)))
                elif self.stopping.is_set():
                    return
                else:
                    time.sleep(self.interval)


def _line_summary(line: str) -> tuple[int, int]:
    # cheap: the count of recipients and the batch id, without parsing a 1000-recipient line twice
    record = json.loads(line)
    return len(record["recipients"]), int((record.get("custom_args") or {}).get("batch_id", 0) or 0)


def check_record(record: Path, issue_number: int, probe_email: str = "") -> dict:
    """Every active subscriber exactly once: the stand-in's record against the ledger and the subscriber list
    (the probes to `probe_email` counted apart)."""
    from sqlalchemy import select

    from mailer.delivery.models import Delivery
    from mailer.issues.models import Issue
    from subscribers.models import Status, Subscriber

    mailed: Counter[str] = Counter()
    with open(record, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                mailed.update(json.loads(line)["recipients"])
    with runtime().session() as session:
        issue_id = session.scalar(select(Issue.id).where(Issue.number == issue_number))
        ledger = set(session.scalars(select(Delivery.email).where(Delivery.issue_id == issue_id)))
        active = set(
            session.scalars(select(Subscriber.email).where(Subscriber.status == Status.ACTIVE))
        )
    probes = mailed.pop(probe_email, 0)
    return {
        "probes": probes,
        "ledger_rows": len(ledger),
        "active_subscribers": len(active),
        "recipients_recorded": sum(mailed.values()),
        "lost": len((ledger | active) - mailed.keys()),
        "duplicates": sum(n - 1 for n in mailed.values() if n > 1),
        "unexpected": len(mailed.keys() - ledger),  # mailed but never in the ledger
    }


def percentiles(values: list[float], qs=(50, 95, 99)) -> dict[str, float | None]:
    if not values:
        return {f"p{q}": None for q in qs}
    s = sorted(values)
    return {f"p{q}": round(s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))], 4) for q in qs}


def throughput_png(seen: list[tuple[float, int, int]], t0: float, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not seen:
        return
    seconds = int(max(t for t, _, _ in seen) - t0) + 1
    per_second = [0] * seconds
    for t, n, _ in seen:
        per_second[max(0, int(t - t0))] += n
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.bar(range(seconds), per_second, width=1.0, align="edge")
    ax.set_xlabel("seconds since the send started")
    ax.set_ylabel("recipients accepted / s")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def pg_counters(url: str) -> dict:
    """Cheap counters (pg_stat_statements is not enabled here): transactions from pg_stat_database, rows
    written from pg_stat_user_tables (pg_stat_database's tup_updated fell short of the deliveries updated)."""
    from sqlalchemy import text

    from mailer.db import get_engine

    with get_engine(url).connect() as conn:
        row = (
            conn.execute(
                text(
                    "SELECT xact_commit, xact_rollback, tup_fetched, blk_read_time, blk_write_time "
                    "FROM pg_stat_database WHERE datname = current_database()"
                )
            )
            .mappings()
            .one()
        )
        tables = (
            conn.execute(
                text(
                    "SELECT coalesce(sum(n_tup_ins), 0) AS tup_inserted, coalesce(sum(n_tup_upd), 0) AS tup_updated, "
                    "coalesce(sum(n_tup_hot_upd), 0) AS tup_hot_updated FROM pg_stat_user_tables"
                )
            )
            .mappings()
            .one()
        )
    return {**row, **tables}


def _samples(path: Path):
    """py-spy's raw (collapsed) output: one (stack, sample count) per line."""
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():
            yield stack, int(count)


def collapsed_hotspots(path: Path, top: int = 25) -> list[tuple[str, float, float]]:
    """(function, self %, inclusive %) for the top functions by self time."""
    self_t: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for stack, n in _samples(path):
        total += n
        frames = stack.split(";")
        self_t[frames[-1]] += n
        for frame in set(frames):
            incl[frame] += n
    if not total:
        return []
    return [
        (f, round(100 * c / total, 1), round(100 * incl[f] / total, 1))
        for f, c in self_t.most_common(top)
    ]


def inclusive_hotspots(path: Path, needles: list[str]) -> dict[str, float]:
    """Inclusive share of samples whose stack contains a frame matching each needle."""
    hits: Counter[str] = Counter()
    total = 0
    for stack, n in _samples(path):
        total += n
        for needle in needles:
            if needle in stack:
                hits[needle] += n
    return {k: round(100 * hits[k] / total, 1) if total else 0.0 for k in needles}
