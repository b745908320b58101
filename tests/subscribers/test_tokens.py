import pytest
from itsdangerous import URLSafeTimedSerializer
from pydantic import SecretStr

from subscribers import tokens
from subscribers.emails import InvalidEmail, normalize


def test_a_token_reads_back_for_its_own_purpose_only(settings):
    token = tokens.make_token(tokens.UNSUBSCRIBE, 42, settings)
    assert tokens.read_token(tokens.UNSUBSCRIBE, token, settings) == 42
    with pytest.raises(tokens.InvalidToken):
        tokens.read_token(tokens.PREFERENCES, token, settings)
    with pytest.raises(tokens.InvalidToken):
        tokens.read_token(tokens.UNSUBSCRIBE, token[:-1] + ("A" if token[-1] != "A" else "B"), settings)


def test_rotating_the_secret_keeps_old_links_working(settings):
    old = tokens.make_token(tokens.UNSUBSCRIBE, 7, settings)
    rotated = settings.model_copy(update={"secret_key": SecretStr("new-secret"),
                                          "old_secret_keys": [settings.secret_key]})
    assert tokens.read_token(tokens.UNSUBSCRIBE, old, rotated) == 7
    assert tokens.make_token(tokens.UNSUBSCRIBE, 7, rotated) != old
    forgotten = settings.model_copy(update={"secret_key": SecretStr("new-secret")})
    with pytest.raises(tokens.InvalidToken):
        tokens.read_token(tokens.UNSUBSCRIBE, old, forgotten)


def test_confirmation_links_expire_after_seven_days(settings):
    signer = URLSafeTimedSerializer([settings.secret_key.get_secret_value()], salt="mailer.confirm")
    stale = signer.dumps(5)
    import time
    from unittest.mock import patch

    with patch("time.time", return_value=time.time() + tokens.CONFIRM_MAX_AGE + 60), \
            pytest.raises(tokens.InvalidToken):
        tokens.read_token(tokens.CONFIRM, stale, settings)
    assert tokens.read_token(tokens.CONFIRM, stale, settings) == 5


def test_addresses_are_normalized_and_validated():
    assert normalize("  Min.Ji@Example.COM ") == "min.ji@example.com"
    with pytest.raises(InvalidEmail):
        normalize("no-at-sign")
