"""The stand-in's bounce list: SendGrid drops mail to an address on it unless a request turns on
`mail_settings.bypass_bounce_management`, and DELETE /v3/suppression/bounces/{email} takes one off
(204 when it was listed, 404 when not). Kept as far as the mailer can see it: who is listed (given at
start), and every DELETE, in order, so a test sees the call arrive."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterable

PATH = "/v3/suppression/bounces/"


def enabled(payload, setting: str) -> bool:
    """Whether a mail-send request's mail_settings turn `setting` on."""
    settings = payload.get("mail_settings") if isinstance(payload, dict) else None
    value = settings.get(setting) if isinstance(settings, dict) else None
    return isinstance(value, dict) and value.get("enable") is True


class BounceList:
    def __init__(self, bounced: Iterable[str] = ()):
        self._lock = threading.Lock()
        self._listed = {e.lower() for e in bounced}
        self._deletes: list[str] = []

    def listed(self) -> set[str]:
        with self._lock:
            return set(self._listed)

    def deletes(self) -> list[str]:
        """The addresses the DELETEs named, listed or not, in order."""
        with self._lock:
            return list(self._deletes)

    def forget(self, path: str) -> bool:
        """A DELETE of this path (under PATH): whether its address was listed (it is not now)."""
        email = urllib.parse.unquote(path.removeprefix(PATH))
        with self._lock:
            self._deletes.append(email)
            listed = email.lower() in self._listed
            self._listed.discard(email.lower())
        return listed
