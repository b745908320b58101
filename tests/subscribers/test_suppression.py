"""The suppression list: a stable keyed hash, the stronger reason kept, only an erasure lifted."""

import hashlib
import inspect

from sqlalchemy import select

from subscribers import suppression
from subscribers.models import Suppression


def test_the_hash_is_stable_keyed_and_independent_of_the_secret_key(settings, monkeypatch):
    digest = suppression.address_hash("min@example.com")
    assert len(digest) == 64 and digest != hashlib.sha256(b"min@example.com").hexdigest()
    # it takes no settings: a rotation of MAILER_SECRET_KEY forgets nobody
    assert "settings" not in inspect.signature(suppression.address_hash).parameters
    assert suppression.address_hash("min@example.com") == digest


def test_only_the_hash_is_stored(session):
    suppression.suppress(session, "secret@example.com", "erased")
    row = session.scalar(select(Suppression))
    assert "secret" not in row.email_hash and row.email_hash == suppression.address_hash(
        "secret@example.com"
    )


def test_the_stronger_reason_wins_and_only_an_erasure_is_lifted(session):
    suppression.suppress(session, "a@example.com", "erased")
    suppression.suppress(session, "a@example.com", "bounced")
    suppression.suppress(session, "a@example.com", "erased")
    assert suppression.reason_for(session, "a@example.com") == "bounced"
    assert not suppression.lift(session, "a@example.com")
    suppression.suppress(session, "b@example.com", "erased")
    assert suppression.lift(session, "b@example.com")
    assert suppression.reason_for(session, "b@example.com") is None
    assert suppression.suppressed_among(
        session, [suppression.address_hash("a@example.com"), "x" * 64]
    ) == {suppression.address_hash("a@example.com")}
    assert suppression.suppressed_among(session, []) == set()
