"""Accessible editions: text contrast of at least 4.5:1 (WCAG AA) for every colour the layouts use,
and an edition that still reads with images off."""

import re

import pytest

from mailer import templates_dir

LAYOUTS = sorted((templates_dir() / "email" / "_layouts").glob("*.mjml.j2"))
DARK = templates_dir() / "email" / "_layouts" / "dark.css.j2"
PAGE, CARD = "#f3f4f6", "#ffffff"  # the body's background, and the sections' one
BUTTON = "#0b57a4"


def luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_contrast_formula():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48  # the well-known just-failing grey


def _text_colours(source: str) -> set[str]:
    found = re.findall(r'(?<![-\w])color(?:="|:\s*)(#[0-9a-fA-F]{6})', source)
    return {c.lower() for c in found}


def _backgrounds(source: str) -> set[str]:
    return {c.lower() for c in re.findall(r'background-color="(#[0-9a-fA-F]{6})"', source)}


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda p: p.name)
def test_every_text_colour_has_enough_contrast(layout):
    source = layout.read_text("utf-8")
    assert _backgrounds(source) <= {PAGE, CARD, BUTTON}, "a new background: add it to this test"
    for colour in _text_colours(source) - {"#ffffff"}:
        for background in (PAGE, CARD):  # footer text sits on the page, the rest on the cards
            assert contrast(colour, background) >= 4.5, (layout.name, colour, background)
    if "#ffffff" in _text_colours(source):  # white is only the button's label, on the button
        assert contrast("#ffffff", BUTTON) >= 4.5


def test_dark_mode_text_has_enough_contrast_on_the_dark_backgrounds():
    source = DARK.read_text("utf-8")
    backgrounds = {c.lower() for c in re.findall(r"background-color:\s*(#[0-9a-fA-F]{6})", source)}
    assert len(backgrounds) == 2  # the page and the cards
    colours = _text_colours(source)
    assert colours
    for colour in colours:
        for background in backgrounds:
            assert contrast(colour, background) >= 4.5, (colour, background)


@pytest.mark.parametrize("lang", ["ko", "en", "both"])
def test_an_edition_reads_with_images_off(issue, lang):
    from mailer.issues.digest import stories_of

    html = next(e for e in issue.editions if e.lang == lang).html
    head = html.split("</head>")[0]
    assert re.search(
        r'<meta name="color-scheme" content="light dark"', head
    )  # in the head, for dark mode
    headings = re.findall(r"<h([12])\b", html)
    assert headings[0] == "1" and headings.count("2") >= len(
        issue.stories
    )  # one h1, an h2 per story
    without_images = re.sub(r"<img\b[^>]*>", "", html)
    for story in stories_of(issue._sa_instance_state.session, issue):
        for side in ("ko", "en"):
            if story[side] and (lang == side or lang == "both"):
                title = (
                    story[side]["title"]
                    .replace("&", "&amp;")
                    .replace("'", "&#39;")
                    .replace('"', "&#34;")
                )
                assert title in without_images  # every title is text, never only a picture
