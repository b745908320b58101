"""How long `mailer ops status` takes as a whole command, with the broker up and a worker online.

    python benchmarks/ops_status.py [--runs 10] [--no-worker] [--checkout PATH]

Starts a private redis-server (no persistence) on a free port, a SQLite database migrated to head in a
temporary directory and, unless --no-worker, one `mailer worker -Q send,mail -c 1` (its heartbeat is
what `ops status` reads). Then runs `python -m mailer.cli ops status` `--runs` times and prints the wall
time (min, median) and the CPU seconds of each run (user + system, from the child's rusage), beside two
floors taken the same way: `python -c pass` and importing what any database command needs
(sqlalchemy.orm, pydantic_settings, redis, click). `--checkout PATH` times another checkout's code (the
same virtualenv), e.g. the main branch before a change. On a machine with other work the CPU seconds
say more than the wall time. `hyperfine -N 'mailer ops status'` gives the same wall figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _timed(argv: list[str], env: dict, runs: int) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return walls, cpus


def _line(label: str, walls: list[float], cpus: list[float]) -> str:
    return (
        f"{label:<44} wall min {min(walls):.3f} s  median {statistics.median(walls):.3f} s"
        f"   cpu median {statistics.median(cpus):.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-worker", action="store_true")
    parser.add_argument("--checkout", type=Path, default=ROOT)
    args = parser.parse_args()
    if not shutil.which("redis-server"):
        sys.exit("redis-server is not on PATH")
    work = Path(tempfile.mkdtemp(prefix="ops-status-bench-"))
    port = _free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=work,
        stdout=subprocess.DEVNULL,
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(args.checkout),
        "MAILER_DATABASE_URL": f"sqlite:///{work / 'mailer.db'}",
        "MAILER_BROKER_URL": f"redis://127.0.0.1:{port}/0",
    }
    py = sys.executable
    worker = None
    try:
        time.sleep(0.5)
        subprocess.run([py, "-m", "mailer.cli", "db", "upgrade"], env=env, check=True)
        if not args.no_worker:
            worker = subprocess.Popen(
                [py, "-m", "mailer.cli", "worker", "-Q", "send,mail", "-c", "1"],
                env=env,
                cwd=work,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(15)  # started, and its first heartbeat in
        print(f"checkout {args.checkout}, {args.runs} runs, worker: {not args.no_worker}")
        print(_line("python -c pass", *_timed([py, "-c", "pass"], env, args.runs)))
        floor = "import sqlalchemy.orm, pydantic_settings, redis, click"
        print(
            _line("python -c '" + floor[7:27] + "...'", *_timed([py, "-c", floor], env, args.runs))
        )
        command = [py, "-m", "mailer.cli", "ops", "status"]
        print(_line("mailer ops status", *_timed(command, env, args.runs)))
        # What does not depend on the machine's load: the modules the command loads, and whether the
        # heavy ones are among them.
        probe = (
            "import sys\nfrom mailer.cli import main\n"
            "main(['ops', 'status'], standalone_mode=False)\n"
            "heavy = [m for m in ('celery', 'alembic', 'jinja2', 'fastapi') if m in sys.modules]\n"
            "print('MODULES', len(sys.modules), ' '.join(heavy) or '-')\n"
        )
        found = subprocess.run(
            [py, "-c", probe], env=env, check=True, capture_output=True, text=True
        ).stdout
        modules, heavy = found.split("MODULES ", 1)[1].split(maxsplit=1)
        print(f"{'modules loaded by ops status':<44} {modules}  (heavy: {heavy.strip()})")
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
