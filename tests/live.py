"""A stack of real processes for the fault tests: `mailer serve`, beat and workers started as ops would
start them, each logging to a file of the test's, and the helpers the tests share."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter

from sqlalchemy import insert

from mailer.db import utcnow
from subscribers.models import Subscriber


class Stack:
    """Processes started as ops would start them, all on this machine."""

    def __init__(self, env: dict, tmp_path):
        self.env, self.tmp_path, self.procs = env, tmp_path, {}

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        self.procs[name] = (
            subprocess.Popen(
                [sys.executable, "-m", "mailer.cli", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            ),
            log,
        )
        return self.procs[name][0]

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text()

    def wait_workers(self, *names: str, timeout: float = 60) -> None:
        """Until each named worker answers a ping (on a slow machine one can take seconds to come up)."""
        from mailer.celery_app import create_app
        from mailer.config import Settings

        app = create_app(Settings(broker_url=self.env["MAILER_BROKER_URL"]))
        deadline = time.time() + timeout
        while time.time() < deadline:
            up = {
                host.split("@")[0]
                for reply in app.control.ping(timeout=0.5) or []
                for host in reply
            }
            if up >= set(names):
                return
        raise AssertionError(f"workers {names} did not come up within {timeout} s")

    def wait_log(self, name: str, text: str, timeout: float = 60) -> float:
        """Until the process's log says `text`; returns the time it was seen."""
        wait_for(lambda: text in self.log(name), timeout, f"{name} to say {text!r}", every=0.05)
        return time.time()

    def stop(self):
        for proc, _log in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, log in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def wait_for(predicate, timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def add_readers(session, n: int) -> list[str]:
    """N active subscribers, a third each ko/en/both; returns their addresses."""
    langs = ("ko", "en", "both")
    rows = [
        {
            "email": f"reader{i}@example.com",
            "lang": langs[i % 3],
            "status": "active",
            "consent_source": "test",
            "created_at": utcnow(),
            "updated_at": utcnow(),
        }
        for i in range(n)
    ]
    session.execute(insert(Subscriber), rows)
    session.commit()
    return [r["email"] for r in rows]


def twice(mailed: Counter) -> dict[str, int]:
    return {e: n for e, n in mailed.items() if n > 1}
