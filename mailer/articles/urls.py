"""Canonical links: the key for deduplication and en<->ko pairing; web links: the only ones kept."""

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = {
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "ref",
    "_ga",
}


def canonical(url: str) -> str:
    """Lower-case scheme and host, no fragment, no utm_* or click-id parameters, no trailing slash. A link
    no URL parser reads (an unbalanced [ in its host) is kept as it is: a feed's bad link is not a crash."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in TRACKING_PARAMS
    ]
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, urlencode(query), ""))


WEB_SCHEMES = ("http", "https")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")  # a % that begins no %XX escape


def web_url(url: str | None) -> str | None:
    """The link as http(s) with a host, rebuilt from what was parsed (so "java\tscript:" cannot hide
    behind the check), or None: a feed's javascript:, data: or mailto: link never reaches a page or an email.
    A % that begins no %XX escape is quoted (%25), so no link from a feed reads as a mail's %tag%."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.hostname:
        return None
    return _STRAY_PERCENT.sub("%25", urlunsplit((parts.scheme.lower(), *parts[1:])))
