"""What the editing layer's refusals say, in the page's language: the desk shows a sentence made
from the refusal's code and parameters, never an exception's English text."""

from __future__ import annotations

from mailer.web.i18n import texts
from mailer.web.labels import N_

# IssueError.code, as mailer.issues.editing and mailer.mail.proofs raise it -> the sentence; its
# placeholders are the error's params (a status is named in the page's language)
EDITING = {
    "not_editable": N_(
        "Issue #%(number)s is %(status)s, so it cannot be edited; "
        "only drafts and scheduled issues can."
    ),
    "story_there": N_("That story is in this issue already."),
    "story_missing": N_("That story is not in this issue."),
    "note_lang": N_("A note is in Korean or English."),
    "last_story": N_("An issue needs at least one story."),
    "order_mismatch": N_("The page was out of date; the order was not changed. Try again."),
    "pair_unavailable": N_(
        "That story cannot be paired: it is gone or in an issue of its own already."
    ),
    "pair_same_lang": N_("A pair is one Korean and one English story."),
    "subject_long": N_("A subject has at most %(max)s characters."),
    "not_rendered": N_("This edition is not rendered yet. Save to render it again."),
    "test_addresses": N_("Give between 1 and %(max)s addresses."),
    "proof_outside": N_(
        "A test goes only to a desk account's own address or to an address at %(domains)s, "
        "not to %(email)s. Nothing was sent."
    ),
    "proof_suppressed": N_(
        "%(email)s is on the suppression list (erased, bounced or complained): no test goes "
        "there. Nothing was sent."
    ),
    "proof_quota": N_(
        "You have sent tests to %(max)s addresses this hour, the most allowed. Try again in "
        "%(minutes)s minutes. Nothing was sent."
    ),
}


def editing_error(exc: Exception, lang: str) -> str:
    """A refused edit or test send as a sentence; anything unforeseen says only that nothing was kept."""
    t = texts(lang)
    message = EDITING.get(getattr(exc, "code", None) or "")
    if message is None:
        return t._("That change could not be made; nothing was saved.")
    params = dict(getattr(exc, "params", {}))
    if "status" in params:
        params["status"] = t.label("status", str(params["status"]))
    return t._(message, **params)
