"""Every interface string exists in both languages, and every one a page uses is defined."""

import re

import pytest

from mailer import templates_dir
from mailer.web.admin.texts import TEXTS as ADMIN_TEXTS
from mailer.web.texts import TEXTS

WEB = templates_dir() / "web"


@pytest.mark.parametrize("texts", [TEXTS, ADMIN_TEXTS], ids=["public", "admin"])
def test_both_languages_have_the_same_keys_and_placeholders(texts):
    assert set(texts["ko"]) == set(texts["en"])
    for key in texts["ko"]:
        assert texts["ko"][key].strip() and texts["en"][key].strip(), key
        fields = lambda s: sorted(re.findall(r"\{(\w+)\}", s))
        assert fields(texts["ko"][key]) == fields(texts["en"][key]), key


def _used_keys(path):
    return set(re.findall(r"\bt\.(\w+)", path.read_text("utf-8")))


def test_every_key_a_page_uses_is_defined():
    for path in WEB.glob("*.html"):
        assert _used_keys(path) <= set(TEXTS["ko"]), path.name
    for path in (WEB / "admin").glob("*.html"):
        assert _used_keys(path) <= set(ADMIN_TEXTS["ko"]), path.name
    # keys built from a value ("status_" ~ ...) must cover every value
    for status in ("draft", "scheduled", "sending", "paused", "sent", "cancelled", "failed"):
        assert f"status_{status}" in ADMIN_TEXTS["ko"]
    for lang in ("ko", "en", "both"):
        assert f"lang_{lang}" in ADMIN_TEXTS["ko"] and f"lang_name_{lang}" in TEXTS["ko"]
