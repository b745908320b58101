"""Feed parsing under arbitrary bytes and mutated sample feeds: parse_feed and ingest never raise."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import delete

from mailer.articles.ingest import add_feed, ingest_all
from mailer.articles.models import Article, Feed
from mailer.articles.parse import parse_feed
from mailer.db import utcnow

pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parents[2] / "mailer" / "demo" / "samples"
EN = (SAMPLES / "en.xml").read_bytes()
KO = (SAMPLES / "ko.xml").read_bytes()
FAST = hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from([EN, KO])))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        i = draw(st.integers(min_value=0, max_value=max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[i] = draw(st.integers(min_value=0, max_value=255))
        elif kind == "cut":
            del data[i:]
        elif kind == "insert":
            data[i:i] = draw(
                st.sampled_from([b"<", b"&", b"]]>", b"<item>", b"\xff\xfe", b"<![CDATA[", b"\x00"])
            )
        else:
            del data[i : i + draw(st.integers(min_value=1, max_value=200))]
    return bytes(data)


content_types = st.sampled_from(
    [
        None,
        "application/rss+xml",
        "text/xml; charset=euc-kr",
        "text/html",
        "application/xml; charset=bogus",
    ]
)


def _parse(body, content_type, lang):
    return parse_feed(body, now=utcnow(), summary_length=200, content_type=content_type, lang=lang)


@FAST
@given(body=st.binary(max_size=2000), content_type=content_types)
def test_arbitrary_bytes_never_raise(body, content_type):
    parsed = _parse(body, content_type, "en")
    assert parsed.items or parsed.error  # nothing readable is always said


@FAST
@given(body=mutated(), content_type=content_types)
def test_mutated_sample_feeds_never_raise(body, content_type):
    parsed = _parse(body, content_type, "ko")
    for item in parsed.items:
        assert item.guid and item.url and item.title


@hsettings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(mutated(), st.binary(max_size=500)))
def test_ingest_never_raises_and_records_an_error(session, tmp_path_factory, body, settings):
    path = tmp_path_factory.mktemp("feed") / "feed.xml"
    path.write_bytes(body)
    parsed = _parse(body, None, "en")
    feed = add_feed(session, str(path), "en", settings)
    session.commit()
    [result] = ingest_all(session, utcnow(), settings)
    if parsed.error:
        assert result.error and session.get(Feed, feed.id).last_error == result.error
    session.execute(delete(Article))
    session.execute(delete(Feed))
    session.commit()


def test_a_malformed_feed_records_an_error(session, tmp_path, settings):
    path = tmp_path / "broken.xml"
    path.write_bytes(EN[: len(EN) // 2])
    feed = add_feed(session, str(path), "en", settings)
    session.commit()
    [result] = ingest_all(session, utcnow(), settings)
    assert result.error and "malformed" in result.error
    assert session.get(Feed, feed.id).last_error == result.error


def test_an_empty_feed_records_an_error_instead_of_raising(session, tmp_path, settings):
    path = tmp_path / "empty.xml"
    path.write_bytes(b"")
    add_feed(session, str(path), "en", settings)
    session.commit()
    [result] = ingest_all(session, utcnow(), settings)
    assert result.error


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0" encoding="\x80"?><rss/>',
        b'<?xml version="1.0" encoding="ut\x00f-8"?><rss/>',
    ],
)
def test_a_mangled_encoding_declaration_records_an_error(body):
    parsed = parse_feed(body, now=utcnow(), summary_length=200, lang="en")
    assert parsed.error
