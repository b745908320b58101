"""The Redis the Celery tests talk to: the one at MAILER_TEST_BROKER_URL when it answers, otherwise a
redis-server (from PATH) of the test run's own, on a free port, keeping nothing on disk."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

DEFAULT_URL = "redis://127.0.0.1:6379"
TEST_DB = 15  # flushed by the tests


class NoRedis(Exception):
    """Neither a Redis answering nor a redis-server to start; the message is one line saying what to do."""


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Ask a server of the tests' own to stop; kill it if it has not within `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def configured_url() -> str:
    return os.environ.get("MAILER_TEST_BROKER_URL") or DEFAULT_URL


def with_test_db(url: str, db: int = TEST_DB) -> str:
    """The URL with the test database number, unless it already names one."""
    parts = urlsplit(url)
    if parts.path.strip("/"):
        return url
    return urlunsplit(parts._replace(path=f"/{db}"))


def answers(url: str, timeout: float = 1.0) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def shown(url: str) -> str:
    """The URL as printed: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(
        parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1))
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server of our own on 127.0.0.1 (--save "" --appendonly no: a restart loses everything queued).
    The port stays the same across stop() and start()."""

    def __init__(self, directory: Path, port: int | None = None, db: int = 0):
        self.dir, self.port = Path(directory), port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/{db}"
        self.log_path = self.dir / f"redis-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise NoRedis(
                "no redis-server on PATH: install one (Debian/Ubuntu: apt-get install redis-server)"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.dir),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if answers(self.url, timeout=0.5):
                return
            time.sleep(0.05)
        self.stop()
        tail = " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-3:])
        raise RuntimeError(
            f"{binary} on port {self.port} did not answer within {timeout:.0f} s: {tail}"
        )

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
