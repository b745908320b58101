"""Who may get a proof. A test send is the one way the desk mails an address of the editor's own
choosing, so it is kept to the newsroom: a desk account's own address (an account named by its
address) or one at MAILER_PROOF_DOMAINS (the From domain by default), never an address on the
suppression list or of a bounced or complained subscriber, and from each account at most
MAILER_PROOFS_PER_HOUR addresses an hour. A refusal is an IssueError with a code, the desk says it
in the page's language, and nothing is sent."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.issues.models import Editor
from mailer.issues.service import IssueError
from mailer.kv import Fallback, Store
from subscribers import suppression
from subscribers.models import SUPPRESSED, Subscriber

HOUR = 3600
PREFIX = "mailer:proofs"


def domain(email: str) -> str:
    return email.rpartition("@")[2]


def account_addresses(session: Session, emails: list[str]) -> set[str]:
    """Which of these (normalized) addresses name a desk account."""
    return set(
        session.scalars(select(func.lower(Editor.name)).where(func.lower(Editor.name).in_(emails)))
    )


def check_addresses(session: Session, emails: list[str], settings: Settings) -> None:
    """Refuse the first address a proof may not go to (IssueError with its code)."""
    allowed = settings.proof_domain_set()
    accounts = account_addresses(session, emails)
    for email in emails:
        if email not in accounts and domain(email) not in allowed:
            raise IssueError(
                f"{email}: proofs go only to desk accounts and to {', '.join(sorted(allowed))}",
                "proof_outside",
                email=email,
                domains=", ".join(sorted(allowed)),
            )
    by_hash = {suppression.address_hash(e): e for e in emails}
    listed = {by_hash[h] for h in suppression.suppressed_among(session, by_hash)}
    listed |= set(
        session.scalars(
            select(Subscriber.email).where(
                Subscriber.email.in_(emails), Subscriber.status.in_(list(SUPPRESSED))
            )
        )
    )
    for email in emails:  # in the order given, so the refusal names the first
        if email in listed:
            raise IssueError(
                f"{email} is suppressed (erased, bounced or complained): no proof goes there",
                "proof_suppressed",
                email=email,
            )


def take_quota(
    store: Store | Fallback, account: int, count: int, settings: Settings, now: float | None = None
) -> None:
    """Count `count` addresses against the account's hour (a clock hour, shared by every web process
    through the store); over the cap nothing is counted and the refusal says how long to wait."""
    now = time.time() if now is None else now
    hour = int(now // HOUR)
    key = f"{PREFIX}:{account}:{hour}"
    used = store.incr(key, count, HOUR + 60)
    if used > settings.proofs_per_hour:
        store.incr(key, -count, HOUR + 60)  # what was refused is not counted
        minutes = max(1, -(-((hour + 1) * HOUR - int(now)) // 60))
        raise IssueError(
            f"at most {settings.proofs_per_hour} proof addresses an hour; try again in {minutes} min",
            "proof_quota",
            max=settings.proofs_per_hour,
            minutes=minutes,
        )
