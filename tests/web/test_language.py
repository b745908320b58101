"""Which language a page speaks, and that both languages say everything."""

import pytest

from mailer.web.language import choose, from_accept_language, switch_url


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", "ko"),
        ("en-US,en;q=0.9,ko;q=0.8", "en"),
        ("ko", "ko"),
        ("fr-FR,fr;q=0.9", "en"),
        ("fr,ko;q=0.5", "ko"),
        ("en;q=0.2, ko;q=0.3", "ko"),
        ("ko, en", "ko"),  # equal q: the first listed
        ("en, ko", "en"),
        ("ko;q=0", "en"),  # q=0 means "not this"
        ("ko;q=abc,en;q=0.1", "en"),
        ("*", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_accept_language(header, expected):
    assert from_accept_language(header) == expected


def test_the_switch_then_the_cookie_then_the_browser_then_korean():
    assert choose("en", "ko", "ko") == "en"  # the switch pressed now
    assert choose(None, "en", "ko") == "en"  # the choice remembered
    assert choose("fr", "en", "ko") == "en"  # an unknown switch is ignored
    assert choose(None, "xx", "ko-KR") == "ko"  # so is a forged cookie
    assert choose(None, None, "en-US") == "en"
    assert choose(None, None, "fr-FR") == "ko"  # neither language named: Korean
    assert choose(None, None, None) == "ko"
    assert from_accept_language("fr-FR") == "en"  # the desk's rule is unchanged


def test_the_switch_keeps_the_path_and_query():
    assert switch_url("/preferences/abc.def", [("lang", "ko"), ("x", "1")], "en") == (
        "/preferences/abc.def?x=1&lang=en"
    )
    assert switch_url("/", [], "ko") == "/?lang=ko"
