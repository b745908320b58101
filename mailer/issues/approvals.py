"""Who let a send time stand. Beat starts only an approved edition: an admin's schedule (or the
command line's: whoever runs it holds the server) is approved as it is made, a plain editor's waits
for an admin to approve it, and a plain editor's later change of the time or of the content drops the
approval again, so what goes out is what an admin saw.

An approval belongs to an edition's send time: taking the time away takes the approval with it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from mailer.issues.models import Edition, Issue

# The name an approval carries when it came from the command line or `issue send`, not an account.
OPERATOR = "command line"


def waiting(issue: Issue) -> list[Edition]:
    """Editions whose send time still waits for an admin (in EDITIONS order)."""
    return [e for e in issue.editions if e.send_at and e.started_at is None and not e.approved_at]


def approved(issue: Issue) -> list[Edition]:
    """Editions with a send time to come that an admin (or the command line) approved."""
    return [e for e in issue.editions if e.send_at and e.started_at is None and e.approved_at]


def approve(editions: Iterable[Edition], by: str, now: datetime) -> None:
    for e in editions:
        e.approved_at, e.approved_by = now, by


def withdraw(editions: Iterable[Edition]) -> None:
    """What was approved is not what would go out any more: an admin must look again."""
    for e in editions:
        if e.started_at is None:
            e.approved_at = e.approved_by = None
