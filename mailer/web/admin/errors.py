"""What the editing layer's refusals say, in the page's language: the desk shows a
sentence, never an exception's English text."""

from __future__ import annotations

import re

from mailer.issues.models import Issue
from mailer.web.i18n import texts
from mailer.web.labels import N_

_EDITING = (  # what mailer.issues.editing and mailer.mail.proofs raise, and the message that says it
    (
        re.compile(r"issue #\d+ is \w+: only drafts"),
        N_(
            "Issue #%(number)s is %(status)s, so it cannot be edited; "
            "only drafts and scheduled issues can."
        ),
    ),
    (re.compile(r"story \d+ is already in"), N_("That story is in this issue already.")),
    (re.compile(r"story \d+ is not in issue|no story \d+"), N_("That story is not in this issue.")),
    (re.compile(r"needs at least one story"), N_("An issue needs at least one story.")),
    (
        re.compile(r"subject is longer than (?P<max>\d+)"),
        N_("A subject has at most %(max)s characters."),
    ),
    (
        re.compile(r"has no rendered"),
        N_("This edition is not rendered yet. Save to render it again."),
    ),
    (
        re.compile(r"give between 1 and (?P<max>\d+) addresses"),
        N_("Give between 1 and %(max)s addresses."),
    ),
)


def editing_error(exc: Exception, issue: Issue | None, lang: str) -> str:
    """A refused edit or test send as a sentence; anything unforeseen says only that nothing was kept."""
    t = texts(lang)
    for pattern, message in _EDITING:
        found = pattern.search(str(exc))
        if found:
            status = t.label("status", issue.status) if issue is not None else ""
            return t._(
                message, number=issue.number if issue else "", status=status, **found.groupdict()
            )
    return t._("That change could not be made; nothing was saved.")
