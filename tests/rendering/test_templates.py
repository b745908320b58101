"""Templates: the same emails and files in every language, and editions fit for mail clients."""

import re
from datetime import date

import pytest

from mailer import templates_dir
from mailer.rendering.dates import long_date
from mailer.rendering.placeholders import PREFERENCES_URL, UNSUBSCRIBE_URL, tags
from mailer.rendering.render import RenderError, environment, render_body

EMAIL = templates_dir() / "email"
LANGS = ("en", "ko", "both")
MAX_HTML_BYTES = 90 * 1024  # Gmail clips near 102 KB


def _files(lang):
    return sorted(
        p.relative_to(EMAIL / lang).as_posix() for p in (EMAIL / lang).rglob("*") if p.is_file()
    )


def test_every_language_has_the_same_emails_and_files():
    assert _files("en") == _files("ko") == _files("both")
    for name in {f.split("/")[0] for f in _files("en")}:
        assert {"subject.txt", "body.mjml.j2", "body.txt.j2"} <= {
            f.split("/")[1] for f in _files("en") if f.startswith(name + "/")
        }


def test_babel_dates_per_locale():
    day = date(2024, 5, 29)
    assert long_date(day, "ko") == "2024년 5월 29일 수요일"
    assert long_date(day, "en") == "Wednesday, May 29, 2024"


@pytest.mark.parametrize("lang", LANGS)
def test_edition_is_fit_for_mail_clients(issue, lang):
    e = next(e for e in issue.editions if e.lang == lang)
    html = e.html
    assert len(html.encode()) < MAX_HTML_BYTES
    assert re.search(rf'<html lang="{"en" if lang == "en" else "ko"}"', html)
    assert 'name="color-scheme"' in html
    own = tags(e.link_tag)  # the edition's own tags, filled per recipient at send time
    assert own.unsubscribe in html and own.preferences in html
    assert own.unsubscribe in e.text
    assert UNSUBSCRIBE_URL not in html and PREFERENCES_URL not in e.text  # none anyone could write
    assert "word-break:keep-all" in html  # inline, for Korean line breaking
    assert "Apple SD Gothic Neo" in html and "Malgun Gothic" in html
    assert "<h1" in html and "<h2" in html
    assert all(
        re.search(r'\balt="', tag) for tag in re.findall(r"<img\b[^>]*>", html)
    )  # empty: the headline follows
    assert "<script" not in html and "googleapis" not in html
    assert "/archive/1/" + lang in html


def test_each_edition_links_to_the_translation(issue):
    en = next(e for e in issue.editions if e.lang == "en")
    ko = next(e for e in issue.editions if e.lang == "ko")
    assert "Read in Korean" in en.html and "/ko/2026/11/" in en.html
    assert "영어로 읽기" in ko.html and "/en/2026/11/" in ko.html


def test_the_bilingual_edition_shows_both_languages(issue):
    both = next(e for e in issue.editions if e.lang == "both")
    assert "Kimjang Costs Ease" in both.html and "배춧값" in both.html


def test_a_broken_template_fails_with_a_clear_message(tmp_path, monkeypatch):
    from mailer.rendering import render

    for lang in ("en",):
        (tmp_path / "email" / lang / "broken").mkdir(parents=True)
        (tmp_path / "email" / lang / "broken" / "body.mjml.j2").write_text("{% if %}", "utf-8")
        (tmp_path / "email" / lang / "bad_mjml").mkdir(parents=True)
        (tmp_path / "email" / lang / "bad_mjml" / "body.mjml.j2").write_text(
            "<mjml><mj-body><mj-section>", "utf-8"
        )
        (tmp_path / "email" / lang / "bad_mjml" / "body.txt.j2").write_text("x", "utf-8")
    monkeypatch.setattr(render, "templates_dir", lambda: tmp_path)
    environment.cache_clear()
    try:
        with pytest.raises(RenderError, match=r"en/broken/body.mjml.j2, line 1"):
            render_body("broken", "en", {})
        with pytest.raises(RenderError, match="MJML of en/bad_mjml"):
            render_body("bad_mjml", "en", {})
    finally:
        environment.cache_clear()


def test_a_missing_value_is_an_error_not_an_empty_string():
    with pytest.raises(RenderError, match="undefined"):
        render_body("digest", "en", {"stories": []})
