"""A stalled send as an editor sees it in Chromium: the issue page says "stalled" and why, in the live
block, with no time left promised. The screenshot goes to docs/screenshots/ when asked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailer.db import utcnow
from tests.ops.test_stalls import accept, began

from .test_browser import browser, log_in, serving  # noqa: F401  (browser: the Chromium fixture)

SHOTS = Path(__file__).resolve().parents[3] / (
    os.environ.get("MAILER_SCREENSHOTS") or "test-artifacts"
)
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.usefixtures("subscribers_by_lang")
def test_a_stalled_send_reads_as_stalled_with_its_reason(
    session,
    ingested,
    editor,
    settings,
    browser,  # noqa: F811
):
    from mailer.issues.service import draft_issue

    settings.batch_size = 2  # nine readers, five batches: one accepted, four waiting
    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    batch_ids = began(session, issue, settings, 200)
    accept(session, batch_ids[:1], 150)  # then nothing for longer than MAILER_STALL_SECONDS
    SHOTS.mkdir(parents=True, exist_ok=True)
    with serving({"MAILER_OUTBOX_DIR": settings.outbox_dir}) as base:
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        log_in(page, base)
        for lang, stalled in (("ko", "발송 멈춤"), ("en", "Stalled")):
            page.goto(f"{base}/admin/issues/{issue.number}?lang={lang}")
            page.wait_for_load_state("networkidle")
            assert page.inner_text('[data-field="state"]') == stalled
            eta = page.inner_text('[data-field="eta"]')  # no time left promised, only the word
            assert eta == ("멈춤" if lang == "ko" else "stalled"), eta
            note = page.inner_text('[data-field="note"]')
            assert ("접수된 메일이 없습니다" if lang == "ko" else "Nothing accepted for") in note
            page.screenshot(path=str(SHOTS / f"desk-stalled-{lang}-1366.png"))  # the live block
