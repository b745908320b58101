"""How tall each desk page is in Chromium at 1366 and 390 px, in Korean and English, with an issue of 10
stories: every page fits in 3,000 px at 1366 (the issue page was about 8,000 with one form per line and
nine tall frames). Prints the figures (pytest -s) so a change of layout can be compared."""

from __future__ import annotations

import pytest

from mailer.db import utcnow

from .test_browser import browser, log_in, serving  # noqa: F401  (browser: the Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
HEIGHT_JS = "Math.ceil(document.body.getBoundingClientRect().height)"  # the content, not the window
TALLEST = 3000  # px at 1366: a page an editor can take in without a long scroll


@pytest.fixture
def desk(session, ingested, editor, settings, subscribers_by_lang):
    """`mailer serve` with issue #1 drafted from the 10 sample stories and 60 more subscribers."""
    from mailer.issues.service import draft_issue
    from subscribers import service

    for i in range(60):
        service.add(
            session, f"reader{i:02}@example.com", ("ko", "en", "both")[i % 3], confirmed=True
        )
    gone, _ = service.add(session, "bounced@example.com", "ko", confirmed=True)
    service.mark_suppressed(session, gone.id, "bounced")
    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    assert len(issue.stories) == 10
    with serving({"MAILER_OUTBOX_DIR": settings.outbox_dir}) as base:
        yield base, gone.id


def test_every_desk_page_fits_in_3000_px_at_desktop_width(desk, browser):  # noqa: F811
    base, bounced_id = desk
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    log_in(page, base)
    pages = {
        "dashboard": "/admin",
        "issue": "/admin/issues/1",
        "subscribers": "/admin/subscribers",
        "subscriber": f"/admin/subscribers/{bounced_id}",
        "editors": "/admin/editors",
        "reports": "/admin/reports",
        "report": "/admin/issues/1/report",
        "two-factor": "/admin/two-factor",
        "feeds": "/admin/feeds",
        "welcome-mail": "/admin/mails/welcome",
    }
    heights: dict[tuple[str, str, int], int] = {}
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for lang in ("ko", "en"):
            for name, url in pages.items():
                # where ?lang= filters by the readers' language, the page's own is ?ui=
                switch = "ui" if url.startswith(("/admin/subscribers", "/admin/mails")) else "lang"
                page.goto(f"{base}{url}?{switch}={lang}")
                page.wait_for_load_state("networkidle")
                heights[(name, lang, width)] = page.evaluate(HEIGHT_JS)
    print("\npage          ko@1366 en@1366  ko@390  en@390")
    for name in pages:
        print(
            f"{name:<13}"
            + "".join(
                f"{heights[(name, lang, w)]:>8}" for w in (1366, 390) for lang in ("ko", "en")
            )
        )
    too_tall = {k: h for k, h in heights.items() if k[2] == 1366 and h > TALLEST}
    assert not too_tall, too_tall
    assert heights[("issue", "ko", 1366)] <= TALLEST  # 10 stories, three editions
