"""Tokens under arbitrary input: only a real token verifies, for its own purpose, and any tampering fails."""

from __future__ import annotations

import string
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer
from pydantic import SecretStr

from subscribers import tokens

pytestmark = pytest.mark.slow

FAST = hsettings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
URLSAFE = string.ascii_letters + string.digits + "-_."
ids = st.integers(min_value=0, max_value=2**31 - 1)
purposes = st.sampled_from(tokens.PURPOSES)


@FAST
@given(text=st.text(max_size=200))
def test_arbitrary_strings_never_verify(settings, text):
    for purpose in tokens.PURPOSES:
        with pytest.raises(tokens.InvalidToken):
            tokens.read(purpose, text, settings)


@FAST
@given(text=st.text(alphabet=URLSAFE, min_size=1, max_size=120))
def test_token_shaped_strings_never_verify(settings, text):
    for purpose in tokens.PURPOSES:
        with pytest.raises(tokens.InvalidToken):
            tokens.read(purpose, text, settings)


@FAST
@given(purpose=purposes, subscriber_id=ids, data=st.data())
def test_tampering_any_character_fails(settings, purpose, subscriber_id, data):
    token = tokens.make_token(purpose, subscriber_id, settings)
    assert tokens.read(purpose, token, settings).subscriber_id == subscriber_id
    # The last character's low bits are base64 padding of the 20-byte signature: changing them alone
    # may decode to the same bytes, so tamper anywhere but there.
    i = data.draw(st.integers(min_value=0, max_value=len(token) - 2))
    replacement = data.draw(st.sampled_from([c for c in URLSAFE if c != token[i]]))
    tampered = token[:i] + replacement + token[i + 1 :]
    with pytest.raises(tokens.InvalidToken):
        tokens.read(purpose, tampered, settings)


@FAST
@given(purpose=purposes, other=purposes, subscriber_id=ids)
def test_a_token_is_refused_for_another_purpose(settings, purpose, other, subscriber_id):
    token = tokens.make_token(purpose, subscriber_id, settings)
    if other == purpose or (
        purpose == tokens.LINKS and other in tokens.SHARED
    ):  # a digest's links open both
        assert tokens.read(other, token, settings).subscriber_id == subscriber_id
    else:
        with pytest.raises(tokens.InvalidToken):
            tokens.read(other, token, settings)


@FAST
@given(
    purpose=purposes,
    subscriber_id=st.integers(min_value=-(2**63), max_value=2**80),
    secret=st.text(min_size=1, max_size=40),
    when=st.integers(min_value=1, max_value=2**32),
)
def test_the_fast_signer_makes_exactly_what_itsdangerous_makes(
    settings, purpose, subscriber_id, secret, when
):
    """make_token signs ints without itsdangerous' per-call setup; the bytes must be the same."""
    keyed = settings.model_copy(update={"secret_key": SecretStr(secret), "old_secret_keys": []})
    with patch("time.time", return_value=when + 0.5):
        ours = tokens.make_token(purpose, subscriber_id, keyed)
        theirs = URLSafeTimedSerializer([secret], salt=f"mailer.{purpose}").dumps(subscriber_id)
        assert ours == theirs
        if subscriber_id >= 0:
            assert tokens.read(purpose, ours, keyed).subscriber_id == subscriber_id


@FAST
@given(
    subscriber_id=st.integers(min_value=-(2**40), max_value=2**40),
    when=st.integers(min_value=1, max_value=2**32),
)
def test_a_digests_links_carry_the_token_made_one_by_one_and_open_both_pages(
    settings, subscriber_id, when
):
    pages = (tokens.UNSUBSCRIBE, tokens.PREFERENCES)
    with patch("time.time", return_value=when + 0.25):
        links = tokens.shared_link_maker(pages, settings)(subscriber_id)
        token = tokens.make_token(tokens.LINKS, subscriber_id, settings)
    assert links == tuple(f"{settings.public_base}/{page}/{token}" for page in pages)
    for page in pages:
        assert tokens.read(page, token, settings).subscriber_id == subscriber_id
