"""The embedded sign-up form in Chromium, on a page of another site: an editor copies the snippet from
the desk, the news site (a second server, another origin) serves it, the vendored widget solves the real
challenge in the browser, and the confirmation mail lands in the outbox. A post without a solved
challenge is refused; the news site's script may post JSON and read the answer, another origin's not."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.broker import free_port
from tests.web.conftest import Outbox

from .admin.test_browser import ARTIFACTS, browser, serving  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "correct horse battery"
SHOTS = Path(__file__).resolve().parents[2] / (
    os.environ.get("MAILER_SCREENSHOTS") or "test-artifacts"
)
NEWS_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>The news site</title>
<style>body {{ font-family: sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }}
.newsletter-signup {{ border: 1px solid #ccc; padding: 1rem; border-radius: .5rem; }}
.newsletter-signup input[type=email] {{ width: 100%; box-sizing: border-box; padding: .4rem; }}
.newsletter-signup fieldset {{ border: 0; padding: 0; margin: .8rem 0; }}
.newsletter-signup label {{ display: block; }}
.newsletter-signup button {{ margin-top: .8rem; padding: .5rem 1rem; }}</style></head>
<body><h1>{title}</h1><p>{story}</p>
{snippet}
</body></html>"""
STORIES = {
    "ko": ("서울 레저", "오늘의 주요 기사를 매주 메일로 받아 보세요."),
    "en": ("The Seoul Ledger", "Get the week's most important stories by email."),
}


@contextmanager
def news_site(pages: dict[str, str]) -> Iterator[tuple[int, list[str]]]:
    """Another site: a plain HTTP server on its own port serving `pages` by path."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path.split("?")[0])
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sites(session, settings):
    from mailer.web.admin.accounts import create_user

    create_user(session, "mina", PASSWORD, role="editor")
    session.commit()
    pages: dict[str, str] = {}
    with news_site(pages) as port:
        env = {
            "MAILER_OUTBOX_DIR": settings.outbox_dir,
            "MAILER_SIGNUP_ORIGINS": f"http://127.0.0.1:{port}",
        }
        with serving(env) as base:
            yield base, f"http://127.0.0.1:{port}", port, pages


def _copy_snippets(browser, base: str) -> dict[str, str]:  # noqa: F811
    """What an editor copies from the desk."""
    page = browser.new_page()
    page.goto(f"{base}/admin/login")
    page.fill("input[name=name]", "mina")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/admin*")
    page.goto(f"{base}/admin/signup-form?lang=ko")
    snippets = {lang: page.input_value(f"#snippet-{lang}") for lang in ("ko", "en")}
    page.close()
    return snippets


def _solve(page) -> str:
    """Tick the widget's box and wait for the browser to solve the challenge; the widget's payload."""
    page.wait_for_function("() => customElements.get('altcha-widget') !== undefined")
    # the box a reader ticks: its drawn tick lies over the input, as a click on it lands
    page.locator("altcha-widget input[type=checkbox]").click(force=True)
    page.wait_for_function(
        "() => (document.querySelector('input[name=altcha]') || {}).value", timeout=60_000
    )
    return page.input_value("input[name=altcha]")


def _mail_to(outbox: Outbox, address: str, wait: float = 15.0):
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        found = outbox.messages(to=address)
        if found:
            return found
        time.sleep(0.2)
    return []


def test_the_embedded_form_works_from_another_origin_and_needs_a_solved_challenge(
    sites,
    browser,  # noqa: F811
    settings,
):
    base, news, port, pages = sites
    outbox = Outbox(settings.outbox_dir)
    snippets = _copy_snippets(browser, base)
    for lang, snippet in snippets.items():
        title, story = STORIES[lang]
        pages[f"/{lang}"] = NEWS_PAGE.format(lang=lang, title=title, story=story, snippet=snippet)
    SHOTS.mkdir(exist_ok=True)

    for lang, width in (("ko", 1366), ("en", 390)):
        context = browser.new_context(viewport={"width": width, "height": 900}, locale=lang)
        page = context.new_page()
        page.goto(f"{news}/{lang}")
        address = f"embedded-{lang}@example.com"
        page.fill("input[name=email]", address)
        assert _solve(page)
        page.screenshot(path=str(SHOTS / f"reader-embedded-form-{lang}-{width}.png"))
        page.click("form.newsletter-signup button[type=submit]")
        page.wait_for_url(f"{base}/signup*")
        assert page.evaluate("document.documentElement.lang") == lang
        assert address in page.inner_text("main")
        [mail] = _mail_to(outbox, address)
        assert mail["To"] == address
        context.close()

    # a post without a solved challenge (the widget's check skipped): refused, nothing sent
    page = browser.new_page()
    page.goto(f"{news}/en")
    page.fill("input[name=email]", "unsolved@example.com")
    page.evaluate("document.querySelector('form.newsletter-signup').submit()")
    page.wait_for_url(f"{base}/signup*")
    assert "The check that you are not a robot was not finished" in page.inner_text("main")
    time.sleep(1)
    assert outbox.messages(to="unsolved@example.com") == []

    # the news site's own script: JSON in, JSON out, readable thanks to CORS
    page.goto(f"{news}/en")
    payload = _solve(page)
    post = """async ([url, body]) => {
        try {
          const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                                      body: JSON.stringify(body)});
          return {status: r.status, body: await r.json()};
        } catch (e) { return {error: String(e)}; }
    }"""
    body = {"email": "scripted@example.com", "lang": "both", "altcha": payload}
    answer = page.evaluate(post, [f"{base}/signup?lang=ko", body])
    assert answer["status"] == 200 and answer["body"]["ok"] is True
    assert "scripted@example.com" in answer["body"]["message"]
    assert "메일" in answer["body"]["message"]  # in the language the address asked for
    assert _mail_to(outbox, "scripted@example.com")
    replay = page.evaluate(post, [f"{base}/signup?lang=en", {**body, "email": "again@example.com"}])
    assert replay["status"] == 400 and replay["body"]["error"] == "challenge"
    page.close()

    # the same page on an origin not in MAILER_SIGNUP_ORIGINS: its script may not read the answer
    stranger = browser.new_page()
    stranger.goto(f"http://localhost:{port}/en")
    refused = stranger.evaluate(
        post, [f"{base}/signup?lang=en", {"email": "x@example.com", "lang": "en"}]
    )
    assert "error" in refused, refused
    fetch = "async (url) => { try { return (await fetch(url)).status; } catch (e) { return String(e); } }"
    assert "TypeError" in stranger.evaluate(fetch, f"{base}/signup/challenge")  # no challenge there
    stranger.close()
