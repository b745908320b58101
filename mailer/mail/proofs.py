"""A test send ("proof") of one edition to chosen addresses, through the configured backend.

Nothing is written to the ledger: a proof is not a delivery of the issue, so sending the issue later
mails every subscriber (an editor who is also a subscriber included) exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.issues.archive import neutral_links
from mailer.issues.models import Issue
from mailer.issues.service import IssueError
from mailer.mail import proof_rules
from mailer.mail.message import OutgoingBatch, Recipient
from mailer.mail.senders import get_sender
from subscribers.emails import normalize

PREFIX = "[TEST] "
FOLDER = "test"  # the outbox files proofs apart from issue-N/
MAX_ADDRESSES = 20


def proof(issue: Issue, lang: str, addresses: list[str], settings: Settings) -> OutgoingBatch:
    """The proof message: the stored edition as sent, the subject marked, subscriber links neutral."""
    edition = next((e for e in issue.editions if e.lang == lang), None)
    if edition is None or not edition.html:
        raise IssueError(
            f"issue #{issue.number} has no rendered {lang} edition",
            "not_rendered",
            number=issue.number,
            lang=lang,
        )
    emails = list(dict.fromkeys(normalize(a) for a in addresses))  # InvalidEmail names a bad one
    if not emails or len(emails) > MAX_ADDRESSES:
        raise IssueError(
            f"give between 1 and {MAX_ADDRESSES} addresses", "test_addresses", max=MAX_ADDRESSES
        )
    links = neutral_links(edition, settings)
    stamp = time.time_ns() // 1000  # unique per proof: the outbox names files by it
    return OutgoingBatch.compose(
        settings,
        lang,
        issue_number=issue.number,
        subject=PREFIX + edition.subject,
        html=edition.html,
        text=edition.text,
        recipients=[
            Recipient(
                delivery_id=stamp + i,
                email=email,
                substitutions=links,
                headers={},
                custom_args={"kind": "test", "issue": str(issue.number)},
            )
            for i, email in enumerate(emails)
        ],
        categories=("test", f"issue-{issue.number}", f"lang-{lang}"),
        folder=FOLDER,
    )


def send_proof(
    session: Session,
    issue: Issue,
    lang: str,
    addresses: list[str],
    settings: Settings,
    *,
    quota: Callable[[int], None] | None = None,
) -> list[str]:
    """Send now (SendError on failure, for the caller to show); returns the addresses mailed. Only to
    addresses proof_rules allows, and `quota` (a desk account's hourly count) is charged one for each
    address first: any refusal is an IssueError, and nothing is sent."""
    message = proof(issue, lang, addresses, settings)
    emails = [r.email for r in message.recipients]
    proof_rules.check_addresses(session, emails, settings)
    if quota is not None:
        quota(len(emails))
    get_sender(settings).send(message)
    return emails
