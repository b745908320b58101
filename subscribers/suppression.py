"""The suppression list: addresses that no import or admin action may bring back, kept as hashes.

The hash is HMAC-SHA256 of the normalized address under a constant key written here, not the
secret key: MAILER_SECRET_KEY rotates, and a rotation would silently orphan every hash and let
erased addresses be imported again. A constant key is no secret, so this is pseudonymization, not
anonymity: whoever holds an address can test it against the list (which is the one check we need),
but the list itself names nobody, and the key keeps its hashes from matching the plain SHA-256
"hashed email" lists that circulate between ad networks. Never change the key: the list would forget.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from subscribers.models import Subscriber, Suppression, SuppressionReason

_KEY = b"bilingual-mailer/suppression-list/v1"
# A bounce or complaint outranks an erasure: the owner may sign up again after an erasure or a hard bounce
# (confirming it again), never after a complaint.
_RANK = {SuppressionReason.ERASED: 0, SuppressionReason.BOUNCED: 1, SuppressionReason.COMPLAINED: 1}


def address_hash(normalized_address: str) -> str:
    """Of an address already normalized by subscribers.emails.normalize."""
    return hmac.new(_KEY, normalized_address.encode("utf-8"), hashlib.sha256).hexdigest()


def reason_for(session: Session, normalized_address: str) -> str | None:
    return session.scalar(
        select(Suppression.reason).where(Suppression.email_hash == address_hash(normalized_address))
    )


def suppressed_among(session: Session, hashes: Iterable[str]) -> set[str]:
    """Which of these hashes are on the list (one query; callers chunk)."""
    hashes = list(hashes)
    if not hashes:
        return set()
    return set(
        session.scalars(select(Suppression.email_hash).where(Suppression.email_hash.in_(hashes)))
    )


def suppress(session: Session, normalized_address: str, reason: str) -> None:
    """Idempotent; keeps the stronger reason when the address is already listed."""
    reason = SuppressionReason(reason)
    digest = address_hash(normalized_address)
    row = session.scalar(select(Suppression).where(Suppression.email_hash == digest))
    if row is None:
        session.add(Suppression(email_hash=digest, reason=reason))
    elif _RANK[reason] > _RANK[SuppressionReason(row.reason)]:
        row.reason = reason
    session.flush()


def lift(session: Session, normalized_address: str, *, bounce: bool = False) -> bool:
    """The owner confirmed a new sign-up: an erasure no longer stands, nor a bounce when `bounce` (the
    confirmation reached the address, so it works again). A complaint does."""
    lifted = (
        {SuppressionReason.ERASED, SuppressionReason.BOUNCED}
        if bounce
        else {SuppressionReason.ERASED}
    )
    row = session.scalar(
        select(Suppression).where(Suppression.email_hash == address_hash(normalized_address))
    )
    if row is None or row.reason not in lifted:
        return False
    session.delete(row)
    session.flush()
    return True


def erased_among(session: Session, normalized_addresses: Iterable[str]) -> set[str]:
    """Which of these addresses were erased: listed, with no subscriber on file (a bounced or complained
    subscriber is listed too, but still on file). One query for the list, one for those it names."""
    by_hash = {address_hash(a): a for a in normalized_addresses}
    listed = [by_hash[h] for h in suppressed_among(session, by_hash)]
    if not listed:
        return set()
    on_file = set(session.scalars(select(Subscriber.email).where(Subscriber.email.in_(listed))))
    return set(listed) - on_file
