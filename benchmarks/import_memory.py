"""Peak memory of a subscriber CSV import, the CLI's and the desk's; print each case's figures.

    python benchmarks/import_memory.py [--mb 200] [--hostile-gb 1] [--desk-mb 50]

Each case runs in a process of its own on a fresh SQLite database, and reports that process's peak
resident set (VmHWM: ru_maxrss would carry the parent's peak over the exec). The cases:

- cli-valid: `mailer subscribers import` of a generated file of about --mb MB, every row a new
  subscriber (a 1 KB `note` column each, which the import ignores, keeps the row count and the run
  time modest while the bytes are many);
- cli-no-newline / cli-all-nul: a --hostile-gb GB file that is one line of letters, or all NUL bytes
  (made sparse, so it costs no disk): refused after 64 KiB;
- desk: `mailer serve` (no broker: the import runs in the web process, in a thread) is sent a
  --desk-mb MB upload in chunks; its peak is read from /proc while it still runs, and /healthz is
  asked throughout the import (its slowest answer is printed).

Nothing here is committed data: the files are made in a temporary folder and removed.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CLI = """
import re, sys
from mailer.cli import main
try:
    main(["subscribers", "import", sys.argv[1]], standalone_mode=False)
except SystemExit:
    pass
except Exception as exc:
    print("refused:", str(exc)[:100], file=sys.stderr)
print(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
"""

MAKE_ADMIN = """
from mailer.config import Settings
from mailer.db import upgrade_database
from mailer.web.admin.accounts import create_user
from mailer.wiring import build_runtime

settings = Settings(_env_file=None)
upgrade_database(settings.database_url)
with build_runtime(settings).session() as session:
    create_user(session, "bench", "bench password 123", role="admin")
"""
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def valid_csv(path: Path, mb: float) -> int:
    pad = "x" * 1000
    rows, size, target = 0, 0, int(mb * 1024 * 1024)
    with path.open("w", encoding="utf-8") as f:
        f.write("email,lang,status,note\n")
        while size < target:
            line = f"u{rows}@bench.example,{('ko', 'en', 'both')[rows % 3]},,{pad}\n"
            f.write(line)
            size += len(line)
            rows += 1
    return rows


def _env(name: str, folder: Path, limit_mb: int) -> dict:
    return {
        **os.environ,
        "MAILER_DATABASE_URL": f"sqlite:///{folder / (name + '.db')}",
        "MAILER_UPLOAD_DIR": str(folder / "uploads"),
        "MAILER_UPLOAD_MAX_BYTES": str((limit_mb + 1) * 1024 * 1024),
        "MAILER_OUTBOX_DIR": str(folder / "outbox"),
        "PYTHONPATH": str(ROOT),
    }


def _report(name: str, path: Path, peak: int, took: float, said: str) -> None:
    size = path.stat().st_size / (1024 * 1024)
    print(f"{name:<16} {size:>8.0f} MB file  peak {peak:>5} MB  {took:>6.1f} s  {said}")


def run(name: str, script: str, path: Path, folder: Path) -> None:
    env = _env(name, folder, 0)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    took = time.monotonic() - started
    out = done.stdout.strip().splitlines()
    peak = int(out[-1]) // 1024 if out and out[-1].isdigit() else -1
    said = ((done.stderr.strip().splitlines() or out[:-1] or [""])[-1])[:110]
    _report(name, path, peak, took, said)


def _peak_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) // 1024


def desk(path: Path, folder: Path, limit_mb: int) -> None:
    """`mailer serve` in a process of its own; the upload streamed to it in 256 KB chunks; /healthz
    asked all the while the import runs, its slowest answer reported."""
    import httpx

    env = _env("desk", folder, limit_mb)
    subprocess.run([sys.executable, "-c", MAKE_ADMIN], env=env, check=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "mailer.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600)
        for _ in range(100):
            try:
                client.get("/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        token = CSRF.search(client.get("/admin/login").text).group(1)
        client.post(
            "/admin/login",
            data={"name": "bench", "password": "bench password 123", "csrf_token": token},
        )
        token = CSRF.search(client.get("/admin/subscribers").text).group(1)
        boundary = "benchboundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="b.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()

        def body():
            yield head
            with path.open("rb") as f:
                while chunk := f.read(256 * 1024):
                    yield chunk
            yield f"\r\n--{boundary}--\r\n".encode()

        started = time.monotonic()
        posted = client.post(
            "/admin/subscribers/import?ui=en",
            content=body(),
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
        job_page, slowest, page = posted.headers.get("location", ""), 0.0, ""
        while job_page:
            asked = time.monotonic()
            client.get("/healthz")
            slowest = max(slowest, time.monotonic() - asked)
            page = client.get(job_page).text
            if 'http-equiv="refresh"' not in page:
                break
            time.sleep(0.5)
        took = time.monotonic() - started
        counts = re.search(r'id="job-counts" role="status">([^<]+)<', page)
        said = f"{posted.status_code}; {counts.group(1) if counts else '?'}; slowest /healthz "
        _report("desk", path, _peak_of(server.pid), took, f"{said}{slowest * 1000:.0f} ms")
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=200, help="size of the valid CSV (MB)")
    parser.add_argument("--hostile-gb", type=float, default=1, help="size of the hostile files")
    parser.add_argument("--desk-mb", type=float, default=50, help="size of the desk upload (MB)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        folder = Path(tmp)
        print(f"{'case':<16} {'file':>16}  {'peak RSS':>13}  {'time':>8}  outcome")
        nul = folder / "all-nul.csv"
        with nul.open("wb") as f:
            f.truncate(int(args.hostile_gb * 1024**3))  # sparse: NUL bytes that take no disk
        run("cli-all-nul", CLI, nul, folder)
        nul.unlink()
        letters = folder / "no-newline.csv"
        with letters.open("wb") as f:
            chunk = b"a" * (8 * 1024 * 1024)
            for _ in range(int(args.hostile_gb * 1024**3) // len(chunk)):
                f.write(chunk)
        run("cli-no-newline", CLI, letters, folder)
        letters.unlink()
        valid = folder / "valid.csv"
        valid_csv(valid, args.mb)
        run("cli-valid", CLI, valid, folder)
        valid.unlink()
        upload = folder / "desk.csv"
        valid_csv(upload, args.desk_mb)
        desk(upload, folder, int(args.desk_mb))


if __name__ == "__main__":
    main()
