"""Each edition right on its own terms: every text inside the `lang` of its own language, links
saying their target's language, subjects and preheaders led by the edition's language, notes per language,
fonts per language, dark mode, the postal address, the text part and the pictures. All three editions."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import pytest

LANGS = ("ko", "en", "both")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
LATIN = re.compile(r"[A-Za-z]")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class LangWalker(HTMLParser):
    """Every text node of the body with the lang of its nearest element that declares one."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []
        self.nodes: list[tuple[str | None, str]] = []
        self.links: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            self.links.append(attrs)
        if tag not in VOID:
            self.stack.append((tag, attrs.get("lang")))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data):
        tags = {t for t, _ in self.stack}
        if data.strip() and not tags & {"head", "style", "title"}:
            self.nodes.append(
                (next((lang for _, lang in reversed(self.stack) if lang), None), data.strip())
            )


def walk(html: str) -> LangWalker:
    walker = LangWalker()
    walker.feed(html)
    return walker


@pytest.mark.parametrize("lang", LANGS)
def test_every_text_node_sits_inside_the_lang_of_its_own_language(mixed, lang):
    nodes = walk(mixed[lang].html).nodes
    assert len(nodes) > 40
    for declared, text in nodes:
        if HANGUL.search(text):
            assert declared == "ko", text
        elif LATIN.search(text):
            assert declared == "en", text


@pytest.mark.parametrize("lang", LANGS)
def test_links_say_the_language_of_their_target_with_hreflang_not_lang(mixed, lang):
    links = walk(mixed[lang].html).links
    story_links = [
        a
        for a in links
        if "news.example.com/ko/" in a["href"] or "news.example.com/en/" in a["href"]
    ]
    assert story_links
    for a in story_links:
        assert a["hreflang"] == ("ko" if "/ko/" in a["href"] else "en")
        assert "lang" not in a  # the link's own text keeps the lang around it


def test_a_story_in_the_other_language_carries_its_lang_and_a_label(mixed):
    ko, en = mixed["ko"].html, mixed["en"].html
    assert re.search(
        r'<p class="muted" lang="ko"[^>]*>영어 기사</p>\s*<h2 class="ink" lang="en"', ko
    )
    assert re.search(
        r'<p class="muted" lang="en"[^>]*>In Korean</p>\s*<h2 class="ink" lang="ko"', en
    )
    assert (
        ko.count(">영어 기사<") == 1 and en.count(">In Korean<") == 1
    )  # only the one-language stories
    assert "[영어 기사]" in mixed["ko"].text and "[In Korean]" in mixed["en"].text
    assert "영어 기사" not in mixed["both"].html and "In Korean" not in mixed["both"].html


def test_subjects_and_preheaders_lead_with_a_story_in_the_editions_language(mixed):
    ko, en, both = mixed["ko"], mixed["en"], mixed["both"]
    # the English-only story is the newest: it leads the English edition, never the Korean one's subject
    assert ko.subject.startswith("서울 레저 주간 브리핑 제1호: ") and HANGUL.search(
        ko.subject.split(": ", 1)[1]
    )
    assert not LATIN.search(ko.subject) and not LATIN.search(ko.preheader)
    assert en.subject.startswith("The Seoul Ledger Weekly No. 1: Kimjang")
    assert not HANGUL.search(en.subject) and not HANGUL.search(en.preheader)
    assert (
        both.subject == f"서울 레저 · The Seoul Ledger 제1호: {ko.subject.split(': ', 1)[1]}"
    )  # a lead headline too
    assert ko.preheader and en.preheader
    assert ko.subject.split(": ", 1)[1] not in ko.preheader  # the preheader goes on from the lead


@pytest.mark.parametrize("lang", LANGS)
def test_the_issue_number_is_written_one_way(mixed, lang):
    e = mixed[lang]
    everything = f"{e.subject}\n{e.html}\n{e.text}"
    if lang in ("ko", "both"):
        assert "제1호" in everything and not re.search(r"(?<!제)1호", everything)
    if lang in ("en", "both"):
        assert "No. 1" in everything
    assert not re.search(r"#1\b", everything)


def test_notes_are_per_language_and_the_bilingual_edition_shows_both(mixed):
    ko, en, both = mixed["ko"], mixed["en"], mixed["both"]
    for part in (ko.html, ko.text):
        assert "편집자의 말" in part and "이번 주 꼭 읽어 보세요" in part
        assert "From the editor" not in part and "Worth your time" not in part
    for part in (en.html, en.text):
        assert "From the editor" in part and "Worth your time" in part
        assert "편집자의 말" not in part and "이번 주 꼭" not in part
    for part in (both.html, both.text):
        assert all(
            note in part
            for note in ("편집자의 말", "From the editor", "이번 주 꼭", "Worth your time")
        )


def test_a_missing_note_shows_none_rather_than_the_other_languages(session, mixed, settings):
    from mailer.issues import editing

    issue = mixed["ko"].issue
    editing.update_editions(session, issue, {"en": {"note": ""}}, settings=settings)
    editing.set_story_note(session, issue, issue.stories[0].article_id, "", "en", settings=settings)
    assert "편집자의 말" not in mixed["en"].html and "이번 주 꼭" not in mixed["en"].html
    assert 'class="ink rule"' not in mixed["en"].html  # no empty note box either
    assert "편집자의 말" in mixed["ko"].html and "편집자의 말" in mixed["both"].html


def test_a_story_note_in_an_unknown_language_is_refused(session, mixed, settings):
    from mailer.issues import editing
    from mailer.issues.service import IssueError

    issue = mixed["ko"].issue
    with pytest.raises(IssueError, match="ko or en"):
        editing.set_story_note(
            session, issue, issue.stories[0].article_id, "Bonjour", "fr", settings=settings
        )


FONT_KO = "'Apple SD Gothic Neo', 'Malgun Gothic', 'Noto Sans CJK KR', 'Noto Sans KR', sans-serif"


def _font_of(tag_source: str) -> str:
    return re.search(r"font-family:([^;\"]+)", unescape(tag_source)).group(1).strip()


@pytest.mark.parametrize("lang", LANGS)
def test_each_language_in_its_own_font_with_an_outlook_fallback(mixed, lang):
    html = mixed[lang].html
    for tag in re.findall(r"<h2 [^>]*>", html):
        font = _font_of(tag)
        if 'lang="ko"' in tag:
            assert font == FONT_KO
        else:
            assert font.startswith("-apple-system, 'Segoe UI'")  # Latin first
            assert font.index("Arial") < font.index("Apple SD Gothic Neo")
    head = html.split("</head>")[0]
    outlook = re.search(r"<!--\[if mso\]><style>(.*?)</style><!\[endif\]-->", head).group(1)
    assert (
        "Arial, sans-serif !important"
        if lang == "en"
        else "'Malgun Gothic', Arial, sans-serif !important"
    ) in outlook


@pytest.mark.parametrize("lang", LANGS)
def test_dark_mode_is_declared_and_done(mixed, lang):
    head = mixed[lang].html.split("</head>")[0]
    assert 'name="color-scheme" content="light dark"' in head
    dark = re.search(
        r"@media \(prefers-color-scheme: dark\) \{(.*?)\n\s*\}\n", head, re.DOTALL
    ).group(1)
    assert ".card" in dark and ".ink" in dark and "a.link" in dark
    assert "[data-ogsc] .ink" in head and "[data-ogsb] .card" in head  # Outlook's apps
    body = mixed[lang].html.split("<body", 1)[1]
    assert 'class="card"' in body and 'class="ink"' in body
    assert 'class="link"' in body


@pytest.mark.parametrize("lang", LANGS)
def test_the_postal_address_and_why_you_get_this_are_in_html_and_text(mixed, postal, lang):
    e = mixed[lang]
    why = {
        "ko": "한국어로 구독하셔서",
        "en": "You receive this because you subscribed",
        "both": "You receive this because you subscribed to the bilingual edition",
    }[lang]
    footer = e.html.split("<body", 1)[1].rsplit('class="muted"', 1)[1]
    for line in postal:
        assert line in footer and line in e.text
    assert why in e.html and why in e.text
    assert e.text.rstrip().endswith(postal[-1])


@pytest.mark.parametrize("lang", LANGS)
def test_the_text_part_has_at_most_one_blank_line_between_blocks(mixed, lang):
    text = mixed[lang].text
    assert "\n\n\n" not in text and text.endswith("\n") and not text.endswith("\n\n")
    assert all(line == line.rstrip() for line in text.splitlines())


def test_the_bilingual_text_part_indents_both_languages_alike(mixed):
    text = mixed["both"].text
    story = text[
        text.index("\n3. ") + 1 : text.index("\n4. ")
    ]  # a translated story: Korean, then English
    lines = [line for line in story.splitlines() if line]
    assert len(lines) == 6 and HANGUL.search(lines[0]) and not HANGUL.search(lines[3])
    assert {len(line) - len(line.lstrip()) for line in lines[1:]} == {
        3
    }  # title, summary, link alike


@pytest.mark.parametrize("lang", LANGS)
def test_pictures_link_to_the_story_with_an_empty_alt_and_the_body_font(
    session, mixed, lang, settings
):
    from sqlalchemy import update

    from mailer.articles.models import Article
    from mailer.issues.digest import render_issue

    session.execute(update(Article).values(image_url="https://news.example.com/img/a.jpg"))
    issue = mixed["ko"].issue
    render_issue(session, issue, settings)
    html = mixed[lang].html
    pictures = re.findall(
        r'<a href="([^"]+)" hreflang="(\w\w)" aria-hidden="true" tabindex="-1"><img ([^>]*)>', html
    )
    assert len(pictures) == len(re.findall(r"<img\b", html)) >= len(issue.stories)
    for href, hreflang, img in pictures:
        assert f"/{hreflang}/" in href  # the picture opens its story
        assert 'alt=""' in img  # the headline follows: the alt would only repeat it
        assert (
            "font-family:" in img and "color:#4a4a4a" in img
        )  # blocked, it falls back to the body font
