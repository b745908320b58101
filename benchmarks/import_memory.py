"""Peak memory of a subscriber CSV import, the CLI's and the desk's; print each case's figures.

    python benchmarks/import_memory.py [--mb 200] [--hostile-gb 1] [--desk-mb 50]

Each case runs in a process of its own on a fresh SQLite database, and reports that process's peak
resident set (VmHWM: ru_maxrss would carry the parent's peak over the exec). The cases:

- cli-valid: `mailer subscribers import` of a generated file of about --mb MB, every row a new
  subscriber (a 1 KB `note` column each, which the import ignores, keeps the row count and the run
  time modest while the bytes are many);
- cli-no-newline / cli-all-nul: a --hostile-gb GB file that is one line of letters, or all NUL bytes
  (made sparse, so it costs no disk): refused after 64 KiB;
- desk: a --desk-mb MB upload posted to /admin/subscribers/import, streamed from the file (the client
  holds a chunk at a time), imported in process by the web app.

Nothing here is committed data: the files are made in a temporary folder and removed.
"""

from __future__ import annotations

import argparse
import os
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

DESK = """
import re, sys
from fastapi.testclient import TestClient
from mailer.config import Settings
from mailer.wiring import build_runtime
from mailer.db import upgrade_database
from mailer.web.app import create_app
from mailer.web.admin.accounts import create_user
from sqlalchemy import func, select
from subscribers.models import Subscriber

settings = Settings(_env_file=None)
upgrade_database(settings.database_url)
runtime = build_runtime(settings)
with runtime.session() as s:
    create_user(s, "bench", "bench password 123", role="admin")
client = TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)
form = client.get("/admin/login").text
token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
client.post("/admin/login", data={"name": "bench", "password": "bench password 123",
            "csrf_token": token, "next": "/admin"})
token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/subscribers").text).group(1)
boundary = "benchboundary"
head = (f'--{boundary}\\r\\nContent-Disposition: form-data; name="csrf_token"\\r\\n\\r\\n{token}\\r\\n'
        f'--{boundary}\\r\\nContent-Disposition: form-data; name="file"; filename="b.csv"\\r\\n'
        'Content-Type: text/csv\\r\\n\\r\\n').encode()
def body():
    yield head
    with open(sys.argv[1], "rb") as f:
        while chunk := f.read(256 * 1024):
            yield chunk
    yield f"\\r\\n--{boundary}--\\r\\n".encode()
r = client.post("/admin/subscribers/import?ui=en", content=body(),
                headers={"content-type": f"multipart/form-data; boundary={boundary}"})
with runtime.session() as s:
    print("status", r.status_code, "subscribers", s.scalar(select(func.count()).select_from(Subscriber)),
          file=sys.stderr)
print(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
"""


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


def run(name: str, script: str, path: Path, folder: Path, limit_mb: int) -> None:
    env = {
        **os.environ,
        "MAILER_DATABASE_URL": f"sqlite:///{folder / (name + '.db')}",
        "MAILER_UPLOAD_DIR": str(folder / "uploads"),
        "MAILER_UPLOAD_MAX_BYTES": str((limit_mb + 1) * 1024 * 1024),
        "MAILER_OUTBOX_DIR": str(folder / "outbox"),
        "PYTHONPATH": str(ROOT),
    }
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
    size = path.stat().st_size / (1024 * 1024)
    print(f"{name:<16} {size:>8.0f} MB file  peak {peak:>5} MB  {took:>6.1f} s  {said}")


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
        run("cli-all-nul", CLI, nul, folder, 0)
        nul.unlink()
        letters = folder / "no-newline.csv"
        with letters.open("wb") as f:
            chunk = b"a" * (8 * 1024 * 1024)
            for _ in range(int(args.hostile_gb * 1024**3) // len(chunk)):
                f.write(chunk)
        run("cli-no-newline", CLI, letters, folder, 0)
        letters.unlink()
        valid = folder / "valid.csv"
        valid_csv(valid, args.mb)
        run("cli-valid", CLI, valid, folder, 0)
        valid.unlink()
        desk = folder / "desk.csv"
        valid_csv(desk, args.desk_mb)
        run("desk", DESK, desk, folder, int(args.desk_mb))


if __name__ == "__main__":
    main()
