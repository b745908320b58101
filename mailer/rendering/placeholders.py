"""Per-recipient values: rendered into an edition as tags, filled at send time (SendGrid substitutions).

An edition's tags carry a random key made when it is rendered (Edition.link_tag), so no stored value
(a feed's title, link, picture or summary, an editor's note) can hold a tag that gets filled: a literal
`%unsubscribe_url%` from a feed is sent as the text it is, never as a reader's signed link."""

from __future__ import annotations

import secrets
from typing import NamedTuple

# The tags of an edition rendered before editions had their own key.
UNSUBSCRIBE_URL = "%unsubscribe_url%"
PREFERENCES_URL = "%preferences_url%"
EDITION_URL = "%edition_url%"
# Around what only a mailed copy carries (the reader's own links, "why you get this"): the web copy
# cuts it out and puts its own footer there.
MAIL_ONLY_START = "<!--mail-only-->"
MAIL_ONLY_END = "<!--/mail-only-->"


class Tags(NamedTuple):
    unsubscribe: str
    preferences: str
    # the reader's edition switch: the templates add the edition wanted (`<tag>/en`)
    edition: str

    def values(self, unsubscribe: str, preferences: str, edition: str) -> dict[str, str]:
        """tag -> value, as a Recipient's substitutions."""
        return {self.unsubscribe: unsubscribe, self.preferences: preferences, self.edition: edition}


def new_key() -> str:
    """A fresh, unguessable key for one rendering of an edition."""
    return secrets.token_hex(16)


def tags(key: str | None) -> Tags:
    """The tags an edition rendered with `key` holds (no key: the old shared tags)."""
    if not key:
        return Tags(UNSUBSCRIBE_URL, PREFERENCES_URL, EDITION_URL)
    return Tags(f"%unsubscribe_url_{key}%", f"%preferences_url_{key}%", f"%edition_url_{key}%")


def fill(text: str, values: dict[str, str]) -> str:
    """What SendGrid does with `substitutions`, for the backends that send without it."""
    for tag, value in values.items():
        text = text.replace(tag, value)
    return text
