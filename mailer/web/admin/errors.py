"""What the editing layer's refusals say, in the page's language: the desk shows a
sentence, never an exception's English text."""

from __future__ import annotations

import re

from mailer.issues.models import Issue
from mailer.web.admin.texts import TEXTS

_EDITING = (  # what mailer.issues.editing and mailer.mail.proofs raise, and the text key that says it
    (re.compile(r"issue #\d+ is \w+: only drafts"), "not_editable"),
    (re.compile(r"story \d+ is already in"), "story_there"),
    (re.compile(r"story \d+ is not in issue|no story \d+"), "story_missing"),
    (re.compile(r"needs at least one story"), "last_story"),
    (re.compile(r"subject is longer than (?P<max>\d+)"), "subject_long"),
    (re.compile(r"has no rendered"), "not_rendered"),
    (re.compile(r"give between 1 and (?P<max>\d+) addresses"), "test_addresses"),
)


def editing_error(exc: Exception, issue: Issue | None, lang: str) -> str:
    """A refused edit or test send as a sentence; anything unforeseen says only that nothing was kept."""
    t = TEXTS[lang]
    for pattern, key in _EDITING:
        found = pattern.search(str(exc))
        if found:
            status = t["status_" + issue.status] if issue is not None else ""
            return t[key].format(
                number=issue.number if issue else "", status=status, **found.groupdict()
            )
    return t["edit_failed"]
