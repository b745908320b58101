"""The editor's story work on the issue page, in Chromium: clicks, page loads, seconds and bytes.

    python benchmarks/desk_week.py [--code DIR]

DIR is the checkout to measure (default: this one), so the same walk runs on main and on a branch:
`--code /work/main` before, no argument after. The script sets up a SQLite database with the sample
feeds' 10-story issue and an admin account, serves DIR's `mailer serve` on a free port and drives
/usr/bin/chromium (1366x900) through the week's story tasks:

    curate    move the 6th story up to 2nd (Up x4), note on two stories, pin the 8th, drop the 10th
    drag      the 6th story to 4th by drag and drop, where the page offers it
    previews  see each edition's mail (ko, en, both): every frame loaded, and how tall it is shown
    pair      undo a story's pairing and pair it again, where the page offers it

and prints, per task: clicks, full page loads, seconds (until the page shows the result), kilobytes
received. Seconds vary with the machine; clicks and page loads do not.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password-1234"


def setup(work: Path) -> None:
    """In DIR's code (this runs as a subprocess with DIR first on the path): the database and account."""
    from mailer.articles.ingest import add_feed, ingest_all
    from mailer.config import get_settings
    from mailer.db import upgrade_database, utcnow
    from mailer.demo.run import NEWEST_AGE, SAMPLES, rebase_dates
    from mailer.issues.service import draft_issue
    from mailer.web.admin.accounts import create_user
    from mailer.wiring import build_runtime

    settings = get_settings()
    upgrade_database(settings.database_url)
    now = utcnow()
    with build_runtime(settings).session() as session:
        for lang in ("en", "ko"):
            path = work / f"{lang}.xml"
            xml = (SAMPLES / f"{lang}.xml").read_text("utf-8")
            path.write_text(rebase_dates(xml, now - NEWEST_AGE), "utf-8")
            add_feed(session, str(path), lang, settings)
        ingest_all(session, now, settings)
        draft_issue(session, now, settings)
        create_user(session, "bench", PASSWORD, role="admin")
        session.commit()


class Walk:
    """Counts what the editor does and waits for: clicks, main-frame page loads, bytes received."""

    def __init__(self, page):
        self.page, self.clicks, self.loads, self.bytes = page, 0, 0, 0
        page.on("framenavigated", lambda f: self._loaded(f))
        page.on("requestfinished", lambda r: self._got(r))

    def _loaded(self, frame):
        if frame == self.page.main_frame:
            self.loads += 1

    def _got(self, request):
        from playwright.sync_api import Error

        with contextlib.suppress(Error):  # a request the page dropped has no sizes
            self.bytes += request.sizes()["responseBodySize"]

    def click(self, selector: str, **kwargs) -> None:
        self.clicks += 1
        self.page.click(selector, **kwargs)

    def order(self) -> list[str]:
        return self.page.eval_on_selector_all("tr.story", "r => r.map(x => x.dataset.article)")

    def until_order(self, expected: list[str]) -> None:
        self.page.wait_for_function(
            "want => document.readyState === 'complete' && JSON.stringify([...document"
            ".querySelectorAll('tr.story')].map(r => r.dataset.article)) === JSON.stringify(want)",
            arg=expected,
        )


def measure(walk: Walk, name: str, task, rows: list) -> None:
    start = (walk.clicks, walk.loads, walk.bytes, time.perf_counter())
    note = task(walk)
    rows.append(
        (
            name,
            walk.clicks - start[0],
            walk.loads - start[1],
            time.perf_counter() - start[3],
            (walk.bytes - start[2]) / 1024,
            note or "",
        )
    )


def curate(walk: Walk) -> str:
    page = walk.page
    ids = walk.order()
    sixth = ids[5]
    for _ in range(4):
        before = walk.order()
        i = before.index(sixth)
        expected = before[: i - 1] + [sixth, before[i - 1]] + before[i + 1 :]
        walk.click(f"tr.story[data-article='{sixth}'] button[value=up]")
        walk.until_order(expected)
    for story, text in ((ids[0], "김장 소식부터 읽어 보세요"), (ids[2], "교통 소식")):
        walk.click(f"#story-note-{story}-ko")
        page.locator(f"#story-note-{story}-ko").press_sequentially(text)
    before = walk.order()
    eighth = before[7]
    walk.click(f"tr.story[data-article='{eighth}'] button[value=pin]")
    walk.until_order([eighth] + [i for i in before if i != eighth])
    before = walk.order()
    tenth = before[9]
    walk.click(f"tr.story[data-article='{tenth}'] button[value=remove]")
    walk.until_order([i for i in before if i != tenth])
    kept = page.locator(f"#story-note-{ids[2]}-ko").input_value() == "교통 소식"
    return "typed notes kept" if kept else "a typed note was lost"


def drag(walk: Walk) -> str:
    page = walk.page
    if not page.locator(".drag-handle").count():
        return "not offered"
    before = walk.order()
    moving, onto = before[5], before[3]
    page.locator(f"tr.story[data-article='{onto}']").scroll_into_view_if_needed()
    handle = page.locator(f"tr.story[data-article='{moving}'] .drag-handle").bounding_box()
    target = page.locator(f"tr.story[data-article='{onto}']").bounding_box()
    if handle["y"] > 880:
        return "rows too tall to drag within one screen"
    walk.clicks += 1  # one press, move, release
    page.mouse.move(handle["x"] + 5, handle["y"] + 10)
    page.mouse.down()
    page.mouse.move(handle["x"] + 10, handle["y"] + 20, steps=5)
    page.mouse.move(target["x"] + 50, target["y"] + 5, steps=10)
    page.mouse.up()
    expected = [i for i in before if i != moving]
    expected.insert(expected.index(onto), moving)
    walk.until_order(expected)
    return ""


def previews(walk: Walk) -> str:
    page = walk.page
    page.locator("#previews, h2:has-text('미리 보기')").first.scroll_into_view_if_needed()
    tabs = page.locator("#previews [role=tab]")
    if tabs.count():
        shown = []
        for i in range(tabs.count()):
            if i:
                walk.click(f"#previews [role=tab] >> nth={i}")
            frame = page.locator("[role=tabpanel]:not([hidden]) iframe")
            page.wait_for_function(
                "f => parseInt(f.style.height) > 0 && f.dataset.loaded", arg=frame.element_handle()
            )
            shown.append(frame.evaluate("f => parseInt(f.style.height)"))
        return "frame heights " + "/".join(map(str, shown)) + " px (whole mail)"
    frames = page.locator("iframe")
    for i in range(frames.count()):
        frames.nth(i).scroll_into_view_if_needed()
    page.wait_for_load_state("networkidle")
    mail = page.frame_locator("iframe >> nth=0").locator("html")
    height = mail.evaluate("h => h.scrollHeight")
    return f"{frames.count()} frames at 700 px; the mail is {height} px tall (clipped)"


def pair(walk: Walk) -> str:
    page = walk.page
    unpair = page.locator("form.pair button").first
    if not page.locator("form.pair").count():
        return "not offered (shell: mailer articles pair/unpair)"
    row = unpair.locator("xpath=ancestor::tr").get_attribute("data-article")
    walk.clicks += 1
    unpair.click()
    page.wait_for_selector(f"tr.story[data-article='{row}'] select[name=partner_id]")
    walk.clicks += 2  # open the list, press Pair (the freed translation is the first choice)
    page.click(f"tr.story[data-article='{row}'] form.pair button")
    page.wait_for_selector(
        f"tr.story[data-article='{row}'] form.pair input[value=unpair]", state="attached"
    )
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--code", type=Path, default=HERE, help="the checkout to serve")
    parser.add_argument("--setup", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        setup(args.setup)
        return 0

    from playwright.sync_api import Error, sync_playwright

    from tests.broker import free_port

    work = Path(tempfile.mkdtemp(prefix="mailer-desk-week-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": str(args.code.resolve()),
        "MAILER_ENV": "test",
        "MAILER_DATABASE_URL": f"sqlite:///{work / 'desk.db'}",
        "MAILER_BROKER_URL": "",
        "MAILER_MAIL_BACKEND": "outbox",
        "MAILER_OUTBOX_DIR": str(work / "outbox"),
        "MAILER_SECRET_KEY": "desk-week-secret",
        "MAILER_PUBLIC_URL": base,
        "MAILER_FEED_ALLOW_PRIVATE": "true",
    }
    me = [sys.executable, str(Path(__file__).resolve())]
    subprocess.run([*me, "--setup", str(work)], env=env, check=True, cwd=args.code)
    serve = [
        sys.executable,
        "-m",
        "mailer.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    server = subprocess.Popen(serve, env=env, cwd=args.code, stdout=subprocess.DEVNULL)
    rows: list = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            for _ in range(100):
                try:
                    page.goto(f"{base}/admin/login")
                    break
                except Error:  # not listening yet
                    time.sleep(0.2)
            page.fill("#name", "bench")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/admin")
            walk = Walk(page)
            page.goto(f"{base}/admin/issues/1?lang=ko")
            for name, task in (
                ("curate", curate),
                ("drag", drag),
                ("previews", previews),
                ("pair", pair),
            ):
                page.goto(f"{base}/admin/issues/1?lang=ko")
                page.wait_for_load_state("load")
                measure(walk, name, task, rows)
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    print(f"code: {args.code.resolve()}")
    print(f"{'task':<10}{'clicks':>7}{'loads':>7}{'seconds':>9}{'KB':>9}  note")
    for name, clicks, loads, seconds, kb, note in rows:
        print(f"{name:<10}{clicks:>7}{loads:>7}{seconds:>9.2f}{kb:>9.0f}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
