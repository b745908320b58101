"""`mailer demo` end to end, in a fresh process as a user runs it."""

import os
import subprocess
import sys
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest


def _run_demo(directory: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}  # nothing configured
    return subprocess.run(
        [sys.executable, "-m", "mailer.cli", "demo", "--dir", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=directory.parent,
        timeout=120,
    )


@pytest.mark.slow  # the demo end to end, in a process of its own
def test_demo_runs_end_to_end_and_mails_nobody_twice(tmp_path):
    directory = tmp_path / "demo"
    first = _run_demo(directory)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "Issue #1: sent" in out
    for line in ("ko   4 recipient(s)", "en   3 recipient(s)", "both 2 recipient(s)"):
        assert line in out
    assert f"Outbox: {directory.resolve() / 'outbox' / 'issue-1'}" in out
    assert "Time: " in out
    assert (directory / "mailer.db").exists()

    emls = sorted((directory / "outbox").rglob("*.eml"))
    assert len(emls) == 9
    recipients = {BytesParser(policy=policy.default).parsebytes(p.read_bytes())["To"] for p in emls}
    assert len(recipients) == 9
    snapshot = {p: p.stat().st_mtime_ns for p in emls}

    second = _run_demo(directory)
    assert second.returncode == 0, second.stderr
    assert "nobody is mailed twice" in second.stdout
    assert {
        p: p.stat().st_mtime_ns for p in sorted((directory / "outbox").rglob("*.eml"))
    } == snapshot


def test_demo_sample_feeds_meet_the_brief():
    import feedparser

    samples = Path(__file__).resolve().parents[1] / "mailer" / "demo" / "samples"
    en, ko = (
        feedparser.parse(str(samples / f"{lang}.xml"), sanitize_html=False) for lang in ("en", "ko")
    )
    assert len(en.entries) >= 8 and len(ko.entries) >= 8
    slugs = lambda feed: {e.link.rsplit("/", 1)[1] for e in feed.entries}
    assert slugs(en) == slugs(ko)  # translations of each other
    raw = "".join(e.content[0].value for e in en.entries + ko.entries)
    assert (
        "<script" in raw and "onclick" in raw and "<iframe" in raw
    )  # something for the sanitizer to do


@pytest.mark.slow
def test_demo_through_the_sendgrid_api_against_the_stand_in(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mailer.cli",
            "demo",
            "--dir",
            str(tmp_path / "demo"),
            "--backend",
            "sendgrid",
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "through the SendGrid API" in result.stdout and "Issue #1: sent" in result.stdout
    assert "SendGrid stand-in accepted 9 message(s) in 3 request(s)" in result.stdout
    assert not list((tmp_path / "demo").rglob("*.eml"))  # nothing went to the outbox
