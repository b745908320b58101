"""A PgBouncer of the test run's own, in transaction mode, in front of the PostgreSQL the suite runs on:
what a deployment of many workers puts between them and the database (docs/scale.md).

Its pool is kept small (two server connections) so that client connections take turns on the same
server connections, as they do in production: any state a client leaves on a server connection past
its transaction (a prepared statement, a SET, a session advisory lock) turns up in another client's.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from tests.broker import stop_process

POOL_SIZE = 2  # server connections per database and user: fewer than the clients, so they share


class NoPgBouncer(Exception):
    """No pgbouncer to start; the message is one line saying what to do."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> list[str]:
    """PgBouncer refuses to run as root: as root (CI), it is told to become an unprivileged user."""
    if os.geteuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return ["-u", name]
    raise NoPgBouncer("running as root with neither a postgres nor a nobody user for pgbouncer")


class PgBouncer:
    """pgbouncer on a free port of 127.0.0.1, pool_mode = transaction, trusting its clients, its one
    database the one `server_url` names (that server's own authentication still applies)."""

    def __init__(self, server_url: str, pool_size: int = POOL_SIZE):
        self.server: URL = make_url(server_url)
        self.port = free_port()
        self.pool_size = pool_size
        self.dir: Path | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The server URL with PgBouncer's address instead: what a client behind it is given."""
        return self.server.set(host="127.0.0.1", port=self.port).render_as_string(
            hide_password=False
        )

    def _ini(self, auth_file: Path) -> str:
        s = self.server
        target = f"host={s.host or '127.0.0.1'} port={s.port or 5432} dbname={s.database}"
        target += f" user={s.username}" + (f" password={s.password}" if s.password else "")
        return "\n".join(
            [
                "[databases]",
                f"{s.database} = {target}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {self.port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {auth_file}",
                "pool_mode = transaction",
                f"default_pool_size = {self.pool_size}",
                "min_pool_size = 0",
                "reserve_pool_size = 0",
                "max_client_conn = 200",
                "server_check_delay = 0",
                "ignore_startup_parameters = extra_float_digits",
                "",
            ]
        )

    def start(self, timeout: float = 10) -> None:
        binary = shutil.which("pgbouncer") or shutil.which("/usr/sbin/pgbouncer")
        if binary is None:
            raise NoPgBouncer(
                "no pgbouncer on PATH: install one (Debian/Ubuntu: apt-get install pgbouncer)"
            )
        # world-readable: as root it reads its files as the user it becomes
        self.dir = Path(tempfile.mkdtemp(prefix="mailer-pgbouncer-"))
        self.dir.chmod(0o755)
        auth_file, ini = self.dir / "userlist.txt", self.dir / "pgbouncer.ini"
        auth_file.write_text(f'"{self.server.username}" ""\n')
        ini.write_text(self._ini(auth_file))
        for f in (auth_file, ini):
            f.chmod(0o644)
        log_path = self.dir / "pgbouncer.log"
        with open(log_path, "w") as log:
            self.proc = subprocess.Popen(
                [binary, *_run_as(), str(ini)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        tail = " | ".join(log_path.read_text(errors="replace").strip().splitlines()[-3:])
        raise RuntimeError(
            f"{binary} on port {self.port} did not start within {timeout:.0f} s: {tail}"
        )

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
