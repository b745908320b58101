"""What a history row's `detail` says (subscribers.models.Change), as a code and parameters.

The service writes these; `english` says one for the CLI and a subscriber's data export, and the desk
says it in the page's language by its code. A provider's own words (`reason`) are kept as written, and
so is a detail stored before codes (plain English, e.g. "active -> unsubscribed").
"""

from __future__ import annotations

from mailer.coded import decode, encode

ADDED = "added"  # status, lang: how an address came in
REQUESTED = "requested"  # lang: a sign-up asked for
MOVED = "moved"  # before, after: statuses; lang (optional): the language it has now
LANG_CHANGED = "lang_changed"  # before, after: languages
PROVIDER = "provider"  # event: the provider's event type; reason (optional): its words; issue (optional): its id
SOFT_BOUNCES = (
    "soft_bounces"  # count: issues in a row that bounced softly; issue (optional): the last one
)
UNREAD = "unread"  # count: issues delivered since the last human open or click
MAX_REASON = 100  # the column holds 200 characters, the code and the event included


def added(status: str, lang: str) -> str:
    return encode(ADDED, status=str(status), lang=lang)


def requested(lang: str) -> str:
    return encode(REQUESTED, lang=lang)


def moved(before: str, after: str, lang: str | None = None) -> str:
    return encode(MOVED, before=str(before), after=str(after), lang=lang)


def lang_changed(before: str, after: str) -> str:
    return encode(LANG_CHANGED, before=before, after=after)


def provider(event: str, reason: str | None = None, issue: int | None = None) -> str:
    return encode(
        PROVIDER, event=event[:32], reason=(reason or "")[:MAX_REASON] or None, issue=issue
    )


def soft_bounces(count: int, issue: int | None = None) -> str:
    return encode(SOFT_BOUNCES, count=count, issue=issue)


def issue_of(detail: str | None) -> int | None:
    """The issue (its id) a suppression's detail names: the one whose event suppressed the reader."""
    coded = decode(detail)
    value = coded.params.get("issue") if coded else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def is_soft(detail: str | None) -> bool:
    """Whether a suppression's detail says soft bounces in a row (not a hard bounce or complaint)."""
    coded = decode(detail)
    return coded is not None and coded.code == SOFT_BOUNCES


def unread(count: int) -> str:
    return encode(UNREAD, count=count)


def english(detail: str | None) -> str | None:
    """The detail as English text (the CLI, a data export); None stays None."""
    coded = decode(detail)
    if coded is None:
        return detail
    p = coded.params
    if coded.code == ADDED:
        return f"{p.get('status')}, lang {p.get('lang')}"
    if coded.code == REQUESTED:
        return f"lang {p.get('lang')}"
    if coded.code == SOFT_BOUNCES:
        return f"soft bounces: {p.get('count')} issues in a row"
    if coded.code == UNREAD:
        return f"{p.get('count')} issues delivered without an open or click"
    if coded.code in (MOVED, LANG_CHANGED):
        return f"{p.get('before')} -> {p.get('after')}" + (
            f", lang {p['lang']}" if "lang" in p else ""
        )
    if coded.code == PROVIDER:
        return f"SendGrid {p.get('event')}" + (f": {p['reason']}" if "reason" in p else "")
    return detail
