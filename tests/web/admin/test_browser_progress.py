"""Live progress and reports in Chromium: the progress bar moves, without a reload, while a real
Celery worker on Redis sends an issue; the report and trend pages then render. Screenshots go to
docs/screenshots/."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from mailer.db import utcnow

from .test_browser import browser, log_in, serving  # noqa: F401  (browser: the Chromium fixture)

# The README's pictures are taken again only when asked (MAILER_SCREENSHOTS=docs/screenshots); a plain run
# keeps its screenshots in test-artifacts/ and leaves the checkout as it was.
SHOTS = Path(__file__).resolve().parents[3] / (
    os.environ.get("MAILER_SCREENSHOTS") or "test-artifacts"
)
pytestmark = [pytest.mark.browser, pytest.mark.celery, pytest.mark.slow]


def test_the_bar_moves_during_a_real_send_through_a_worker(
    session,
    ingested,
    editor,
    settings,
    redis_url,
    browser,  # noqa: F811
):
    from mailer.issues.service import draft_issue
    from subscribers import service

    SHOTS.mkdir(parents=True, exist_ok=True)
    for i in range(24):
        service.add(session, f"reader{i}@example.com", ("ko", "en", "both")[i % 3], confirmed=True)
    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    redis.Redis.from_url(redis_url).flushdb()
    # one recipient a batch and four a second: the send takes about six seconds, long enough to watch
    env = {
        "MAILER_BROKER_URL": redis_url,
        "MAILER_OUTBOX_DIR": settings.outbox_dir,
        "MAILER_BATCH_SIZE": "1",
        "MAILER_SEND_RATE_PER_SECOND": "4",
    }
    with serving(env) as base:
        env = {**os.environ, **env, "MAILER_PUBLIC_URL": base}
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mailer.cli",
                "worker",
                "-Q",
                "send",
                "-c",
                "1",
                "--loglevel",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _watch_the_bar(browser, base, env, issue)
        finally:
            worker.terminate()
            worker.wait(10)


def _watch_the_bar(chromium, base: str, env: dict, issue) -> None:
    page = chromium.new_page(viewport={"width": 1366, "height": 900})
    log_in(page, base)
    sent = subprocess.run(
        [sys.executable, "-m", "mailer.cli", "issue", "send", str(issue.number)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stderr
    page.goto(f"{base}/admin/issues/{issue.number}?lang=ko")
    bar = page.locator('progress[data-bar="issue"]')
    seen = [int(bar.get_attribute("aria-valuenow"))]
    page.goto(f"{base}/admin?lang=ko")  # the dashboard's block for the issue sending
    page.wait_for_selector("#sending-now progress")
    page.screenshot(path=str(SHOTS / "progress-dashboard-ko-1366.png"), full_page=True)
    page.goto(f"{base}/admin/issues/{issue.number}?lang=ko")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    heading_at_load = page.locator("#issue-status").inner_text()
    buttons_at_load = page.locator("#issue-actions button").count()
    deadline = time.monotonic() + 60
    shot = False
    while time.monotonic() < deadline:
        now = int(bar.get_attribute("aria-valuenow"))
        if now != seen[-1]:
            seen.append(now)
        if not shot and 0 < now < 24:
            page.locator(".live-progress").screenshot(
                path=str(SHOTS / "progress-issue-ko-1366.png")
            )
            shot = True
        if now == 24:
            break
        time.sleep(0.25)
    assert seen[-1] == 24 and len(seen) >= 3, seen  # it moved in steps, on one page load
    assert (
        page.evaluate("window.sameDocument === true")
        and page.locator('[data-field="issue.sent"]').inner_text() == "24"
    )
    page.wait_for_function(
        "document.querySelector('.live-progress').dataset.live === 'no'", timeout=15000
    )
    assert page.locator('.live-progress [data-field="state"]').inner_text() == "발송 완료"
    # the heading and the buttons moved with the bar, on the same page load: no "sending" at 100%
    assert (heading_at_load, buttons_at_load) == ("발송 중", 2)
    assert page.locator("#issue-status").inner_text() == "발송 완료"
    assert page.locator("#issue-actions button").count() == 0
    assert page.evaluate("window.sameDocument === true")
    for lang in ("ko", "en"):
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 900})
            for name, url in (
                ("report", f"/admin/issues/{issue.number}/report"),
                ("reports", "/admin/reports"),
            ):
                page.goto(f"{base}{url}?lang={lang}")
                assert page.evaluate(
                    "document.documentElement.scrollWidth <= window.innerWidth + 1"
                ), (name, width)
                page.screenshot(
                    path=str(SHOTS / f"report-{name}-{lang}-{width}.png"), full_page=True
                )
