"""Which language a page speaks, and that both languages say everything."""

import pytest

from mailer.web.language import choose, from_accept_language


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


def test_the_subscriber_wins_then_the_switch_then_the_browser():
    assert choose("en", "ko", "ko") == "en"
    assert choose("ko", "en", "en") == "ko"
    assert choose(None, "ko", "en") == "ko"
    assert choose(None, None, "ko-KR") == "ko"
    assert choose(None, "fr", "en") == "en"  # an unknown switch is ignored
    assert choose("both", None, "en") == "ko"  # a bilingual reader's digest leads with Korean
    assert choose("both", "en", "ko") == "en"
