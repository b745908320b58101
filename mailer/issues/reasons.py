"""Why an issue is paused, cancelled or failed (its `status_reason`), as a code and parameters.

The delivery layer and the desk write these; `english` says one for the CLI, ops status and the logs,
and the desk says it in the page's language by its code. An editor's own words (`why`) and the
provider's error are parameters, kept as written. A reason stored before codes (plain English) is
shown as it is.
"""

from __future__ import annotations

from mailer.coded import decode, encode

PAUSED = "paused"  # name: the editor (absent: someone unnamed); why: their words (optional)
CANCELLED = "cancelled"
BATCHES_FAILED = "batches_failed"  # count
CREDENTIALS_REFUSED = "credentials_refused"  # number: the issue; error: the provider's answer


def paused(name: str | None = None, why: str | None = None) -> str:
    return encode(PAUSED, name=name or None, why=why or None)


def cancelled() -> str:
    return encode(CANCELLED)


def batches_failed(count: int) -> str:
    return encode(BATCHES_FAILED, count=count)


def credentials_refused(number: int, error: str) -> str:
    return encode(CREDENTIALS_REFUSED, number=number, error=error)


def english(stored: str | None) -> str:
    """The reason as an English sentence (the CLI, ops status, logs); '' for none."""
    coded = decode(stored)
    if coded is None:
        return stored or ""
    p = coded.params
    if coded.code == PAUSED:
        who = f"paused by {p['name']}" if "name" in p else "paused by an editor"
        return who + (f": {p['why']}" if "why" in p else "")
    if coded.code == CANCELLED:
        return "cancelled by an editor"
    if coded.code == BATCHES_FAILED:
        return f"{p.get('count')} batch(es) failed"
    if coded.code == CREDENTIALS_REFUSED:
        return (
            f"SendGrid refused our credentials ({p.get('error')}). Fix MAILER_SENDGRID_API_KEY, "
            f"then run `mailer issue resume {p.get('number')}`."
        )
    return stored or ""
