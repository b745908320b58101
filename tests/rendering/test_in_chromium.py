"""The three editions in a real browser: Debian's Chromium, through Playwright, at 600 and 375 px,
in light and in dark mode. Nothing overflows the phone's width; dark mode really turns the cards, the text
and the links dark-on-light into light-on-dark. Screenshots go to test-artifacts/emails/, and with
MAILER_SCREENSHOTS=docs/emails to the README's pictures (600 px, light and dark)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailer.articles.models import Article

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "emails"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PICTURE = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="1104" height="520"><rect width="1104" height="520" '
    'fill="#5b7c99"/><circle cx="860" cy="150" r="90" fill="#f2c14e"/><path d="M0 520 L360 220 L620 420 '
    'L800 300 L1104 520 Z" fill="#2f4858"/></svg>'
)

# The colours a reader sees: the first card's background, the lead headline's and a link's colour.
COLOURS_JS = """() => {
  const style = (el) => getComputedStyle(el);
  const card = document.querySelector('.card > table');
  const link = document.querySelector('a.link');
  return {card: style(card).backgroundColor, headline: style(document.querySelector('h2 a')).color,
          body: style(document.querySelector('p.ink')).color, link: style(link).color,
          width: document.documentElement.scrollWidth};
}"""


def _luminance(css: str) -> float:
    r, g, b = (int(v) / 255 for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def pictured(session, mixed, settings):
    """The mixed issue cut to four stories (one English-only, one Korean-only, two in both languages), with
    a picture on the lead, served locally."""
    from mailer.issues import editing

    issue = mixed["ko"].issue
    for story in issue.stories[4:]:
        editing.remove_story(session, issue, story.article_id, settings=settings)
    lead = session.get(Article, issue.stories[0].article_id)
    lead.image_url = "https://news.example.com/img/story.svg"
    editing.set_story_note(
        session, issue, lead.id, "Worth your time this week", "en", settings=settings
    )  # re-renders
    return mixed


@pytest.mark.parametrize("lang", ["ko", "en", "both"])
def test_each_edition_in_light_and_dark_at_600_and_375_px(browser, pictured, lang, settings):
    from mailer.issues.archive import archive_html

    html = archive_html(pictured[lang], settings)
    out = [ARTIFACTS]
    if os.environ.get("MAILER_SCREENSHOTS"):
        out.append(ROOT / os.environ["MAILER_SCREENSHOTS"])
    for scheme in ("light", "dark"):
        for width in (600, 375):
            page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
            page.route(
                "https://news.example.com/img/**",
                lambda route: route.fulfill(status=200, content_type="image/svg+xml", body=PICTURE),
            )
            page.route(
                "**/*",
                lambda route: route.fallback() if "/img/" in route.request.url else route.abort(),
            )
            page.set_content(html, wait_until="load")
            seen = page.evaluate(COLOURS_JS)
            assert seen["width"] <= width, f"{lang} {scheme}: wider than {width} px"
            if scheme == "dark":
                assert _luminance(seen["card"]) < 0.2 and _luminance(seen["headline"]) > 0.8
                assert _luminance(seen["body"]) > 0.8 and _luminance(seen["link"]) > 0.5
            else:
                assert _luminance(seen["card"]) > 0.95 and _luminance(seen["headline"]) < 0.1
            assert page.evaluate(
                "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)"
            )
            for folder in out:
                folder.mkdir(parents=True, exist_ok=True)
                if width == 600 or folder == ARTIFACTS:
                    name = (
                        f"{lang}-{scheme}.png"
                        if folder != ARTIFACTS
                        else f"{lang}-{scheme}-{width}.png"
                    )
                    page.screenshot(path=str(folder / name), full_page=True)
            page.close()
