"""Two-factor login's parts without a database: the code window, spent steps, sealed secrets across a
key rotation, and the half-logged-in token's binding and age."""

import pyotp
from pydantic import SecretStr

from mailer.web.admin import totp, two_factor

NOW = 1_800_000_000.0


def test_a_code_counts_within_one_step_either_side_and_only_after_the_last_used():
    secret = totp.new_secret()
    app = pyotp.TOTP(secret)
    step = app.timecode(int(NOW))
    assert totp.matching_step(secret, app.at(NOW), NOW, None) == step
    assert totp.matching_step(secret, app.at(NOW - 30), NOW, None) == step - 1
    assert totp.matching_step(secret, app.at(NOW + 30), NOW, None) == step + 1
    assert totp.matching_step(secret, app.at(NOW - 60), NOW, None) is None  # too old
    assert totp.matching_step(secret, app.at(NOW), NOW, step) is None  # spent
    assert totp.matching_step(secret, app.at(NOW + 30), NOW, step) == step + 1
    code = app.at(NOW)
    assert totp.matching_step(secret, f"{code[:3]} {code[3:]}", NOW, None) == step  # as typed
    for bad in ("", "12345", "1234567", "abcdef", "١٢٣٤٥٦"):
        assert totp.matching_step(secret, bad, NOW, None) is None


def test_a_sealed_secret_opens_after_a_key_rotation_and_not_without_the_old_key(settings):
    sealed = totp.seal(settings, "JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in sealed
    rotated = settings.model_copy(
        update={"secret_key": SecretStr("n" * 40), "old_secret_keys": [settings.secret_key]}
    )
    assert totp.unseal(rotated, sealed) == "JBSWY3DPEHPK3PXP"
    dropped = settings.model_copy(update={"secret_key": SecretStr("n" * 40)})
    assert totp.unseal(dropped, sealed) is None
    assert totp.recovery_hashes(settings, "abcde-fghjk")[0] in totp.recovery_hashes(
        rotated, "ABCDE FGHJK"
    )


def test_an_enrolment_token_is_its_editors_only(settings):
    token = totp.enrolment_token(settings, 7, "JBSWY3DPEHPK3PXP")
    assert totp.enrolment_secret(settings, token, 7) == "JBSWY3DPEHPK3PXP"
    assert totp.enrolment_secret(settings, token, 8) is None
    assert totp.enrolment_secret(settings, token[:-4] + "AAAA", 7) is None


def test_the_half_logged_in_token_is_bound_to_its_cookie_and_short_lived(settings, monkeypatch):
    token = two_factor.second_step_token(settings, 7, "cookie-one")
    assert two_factor.second_step_editor(settings, token, "cookie-one") == 7
    assert two_factor.second_step_editor(settings, token, "cookie-two") is None
    assert two_factor.second_step_editor(settings, token, None) is None
    from itsdangerous import TimestampSigner

    later = TimestampSigner.get_timestamp(None) + two_factor.SECOND_STEP_MAX_AGE + 1
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda _self: later)
    assert two_factor.second_step_editor(settings, token, "cookie-one") is None
