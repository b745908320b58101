"""The Korean catalog says everything the pages and the desk say: every message id extracted from
the code and the templates (as `pybabel extract -F babel.cfg` finds them) has a Korean translation,
none empty or fuzzy, each with the placeholders of its English id."""

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po

from mailer.web import i18n

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def extracted() -> dict[tuple[str | None, str], tuple[str, int]]:
    """{(context, id): (file, line)} of every message the pages use."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {**DEFAULT_KEYWORDS, **parse_keywords(list(i18n.KEYWORDS))}
    found = {}
    for filename, line, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found[(context, message if isinstance(message, str) else message[0])] = (filename, line)
    return found


def korean():
    with i18n.catalog_path("ko").open("rb") as po:
        return read_po(po, locale="ko")


def problems(catalog, used) -> list[str]:
    """What is wrong with a catalog: missing, empty or fuzzy translations, placeholders that differ."""
    wrong = []
    for (context, msgid), (filename, line) in sorted(used.items(), key=str):
        message = catalog.get(msgid, context=context)
        if message is None:
            wrong.append(f"missing: {msgid!r} ({filename}:{line})")
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            wrong.append(f"fuzzy: {ids[0]!r}")
        if not all(s and s.strip() for s in strings):
            wrong.append(f"empty: {ids[0]!r}")
            continue
        names = set(PLACEHOLDER.findall(ids[-1]))  # the plural has every name the forms may use
        for s in strings:
            if set(PLACEHOLDER.findall(s)) != names:
                wrong.append(f"placeholders: {ids[0]!r} -> {s!r}")
    return wrong


def test_the_korean_catalog_translates_every_message_the_pages_use():
    used = extracted()
    assert len(used) > 100  # the extraction found the templates and the code
    assert problems(korean(), used) == []


def test_the_check_fails_on_a_missing_fuzzy_empty_or_misplaced_translation(tmp_path):
    catalog = korean()
    used = extracted()
    catalog.get("Rate").flags.add("fuzzy")  # a translation someone did not check
    catalog.get("Time left").string = ""
    catalog.get("There is no issue #%(number)s.").string = "제%(num)s호는 없습니다."
    catalog.delete("Pin")
    wrong = problems(catalog, used)
    assert any(w.startswith("fuzzy: 'Rate'") for w in wrong)
    assert any(w.startswith("empty: 'Time left'") for w in wrong)
    assert any(w.startswith("placeholders: 'There is no issue") for w in wrong)
    assert any(w.startswith("missing: 'Pin'") for w in wrong)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_plurals_and_placeholders_in_each_language(lang):
    t = i18n.texts(lang)
    one = t.ngettext("%(num)s person", "%(num)s people", 1)
    many = t.ngettext("%(num)s person", "%(num)s people", 1445, num="1,445")
    assert (one, many) == (("1명", "1,445명") if lang == "ko" else ("1 person", "1,445 people"))
    assert t._("There is no issue #%(number)s.", number=7) == (
        "제7호는 없습니다." if lang == "ko" else "There is no issue #7."
    )
    assert t.label("status", "sent") == ("발송 완료" if lang == "ko" else "Sent")
    assert t._("Sent") == ("발송" if lang == "ko" else "Sent")  # the same English, another context


def test_a_language_without_a_catalog_speaks_the_english_ids():
    assert i18n.texts("en")._("A subject has at most %(max)s characters.", max=78) == (
        "A subject has at most 78 characters."
    )
    assert not i18n.catalog_path("en").exists()
