import pytest
from itsdangerous import URLSafeTimedSerializer
from pydantic import SecretStr

from subscribers import tokens
from subscribers.emails import InvalidEmail, normalize


def test_a_token_reads_back_for_its_own_purpose_only(settings):
    token = tokens.make_token(tokens.UNSUBSCRIBE, 42, settings)
    assert tokens.read(tokens.UNSUBSCRIBE, token, settings).subscriber_id == 42
    with pytest.raises(tokens.InvalidToken):
        tokens.read(tokens.PREFERENCES, token, settings)
    # Not the last character: its low bits are base64 padding, so some changes there alter nothing.
    with pytest.raises(tokens.InvalidToken):
        tokens.read(
            tokens.UNSUBSCRIBE,
            token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:],
            settings,
        )


def test_rotating_the_secret_keeps_old_links_working(settings):
    old = tokens.make_token(tokens.UNSUBSCRIBE, 7, settings)
    rotated = settings.model_copy(
        update={"secret_key": SecretStr("new-secret"), "old_secret_keys": [settings.secret_key]}
    )
    assert tokens.read(tokens.UNSUBSCRIBE, old, rotated).subscriber_id == 7
    assert tokens.make_token(tokens.UNSUBSCRIBE, 7, rotated) != old
    forgotten = settings.model_copy(update={"secret_key": SecretStr("new-secret")})
    with pytest.raises(tokens.InvalidToken):
        tokens.read(tokens.UNSUBSCRIBE, old, forgotten)


def test_confirmation_links_expire_after_seven_days(settings):
    signer = URLSafeTimedSerializer([settings.secret_key.get_secret_value()], salt="mailer.confirm")
    stale = signer.dumps(5)
    import time
    from unittest.mock import patch

    with (
        patch("time.time", return_value=time.time() + tokens.CONFIRM_MAX_AGE + 60),
        pytest.raises(tokens.InvalidToken),
    ):
        tokens.read(tokens.CONFIRM, stale, settings)
    assert tokens.read(tokens.CONFIRM, stale, settings).subscriber_id == 5


def test_addresses_are_normalized_and_validated():
    assert normalize("  Min.Ji@Example.COM ") == "min.ji@example.com"
    with pytest.raises(InvalidEmail):
        normalize("no-at-sign")


def test_tokens_carry_their_time_and_old_untimed_links_still_read(settings):
    from itsdangerous import URLSafeSerializer

    claim = tokens.read(
        tokens.PREFERENCES, tokens.make_token(tokens.PREFERENCES, 3, settings), settings
    )
    assert claim.subscriber_id == 3 and claim.issued_at is not None and claim.lang is None
    old = URLSafeSerializer(
        [settings.secret_key.get_secret_value()], salt="mailer.unsubscribe"
    ).dumps(3)
    assert tokens.read(tokens.UNSUBSCRIBE, old, settings) == tokens.Claim(3, None)
    assert tokens.read(tokens.UNSUBSCRIBE, old, settings).subscriber_id == 3
    untimed_confirm = URLSafeSerializer(
        [settings.secret_key.get_secret_value()], salt="mailer.confirm"
    ).dumps(3)
    with pytest.raises(
        tokens.InvalidToken
    ):  # confirmation links must expire, so they must carry a time
        tokens.read(tokens.CONFIRM, untimed_confirm, settings)


def test_a_confirmation_link_carries_the_chosen_language(settings):
    token = tokens.make_token(tokens.CONFIRM, 9, settings, lang="both")
    assert tokens.read(tokens.CONFIRM, token, settings).lang == "both"
    assert tokens.read(tokens.CONFIRM, token, settings).subscriber_id == 9
    with pytest.raises(ValueError):
        tokens.make_token(tokens.UNSUBSCRIBE, 9, settings, lang="ko")
    with pytest.raises(ValueError):
        tokens.make_token(tokens.CONFIRM, 9, settings, lang="fr")


def test_a_well_signed_token_with_a_strange_payload_is_refused(settings):
    from itsdangerous import URLSafeTimedSerializer

    signer = URLSafeTimedSerializer(
        [settings.secret_key.get_secret_value()], salt="mailer.preferences"
    )
    for payload in ("7", True, [7, "fr"], [7], {"id": 7}, None):
        with pytest.raises(tokens.InvalidToken):
            tokens.read(tokens.PREFERENCES, signer.dumps(payload), settings)


def test_links_point_at_the_public_url(settings):
    assert tokens.link(tokens.UNSUBSCRIBE, 4, settings).startswith(
        "https://news.example.com/unsubscribe/"
    )


def test_links_refuse_an_unknown_purpose(settings):
    with pytest.raises(ValueError):
        tokens.shared_link_maker(
            (tokens.UNSUBSCRIBE, tokens.CONFIRM), settings
        )  # a confirmation is its own
