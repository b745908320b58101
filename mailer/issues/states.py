"""The issue state machine: the one place that says which transitions exist."""

from enum import StrEnum


class IssueStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"
    FAILED = "failed"


S = IssueStatus
# target -> the states it may be reached from
ISSUE_TRANSITIONS: dict[IssueStatus, frozenset[IssueStatus]] = {
    S.SCHEDULED: frozenset({S.DRAFT, S.SCHEDULED}),
    S.DRAFT: frozenset({S.SCHEDULED}),  # unschedule
    S.SENDING: frozenset({S.DRAFT, S.SCHEDULED, S.PAUSED}),  # from paused: resume
    S.PAUSED: frozenset({S.SENDING}),
    S.SENT: frozenset({S.SENDING}),
    S.CANCELLED: frozenset({S.DRAFT, S.SCHEDULED, S.SENDING, S.PAUSED}),
    S.FAILED: frozenset({S.SENDING}),
}
TERMINAL = frozenset({S.SENT, S.CANCELLED, S.FAILED})
# The one way back from a finished send: an admin resending its failed batches (delivery/resend.py).
# Not in ISSUE_TRANSITIONS, so "send now" can never start a sent issue over.
RESENDABLE = frozenset({S.SENT, S.FAILED})


class InvalidTransition(Exception):
    pass
