"""Reading the subscriber list: the desk's search, counts, one subscriber's history and personal
data, and why an address is suppressed."""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from mailer.db import custom_plans
from subscribers import suppression
from subscribers.emails import normalize
from subscribers.models import SUPPRESSED, Change, Status, Subscriber
from subscribers.service import SubscriberError, check_lang

SUPPRESSED_FILTER = (
    "suppressed"  # a status filter: bounced and complained together (the suppression list)
)
# a status filter: active readers asked "still want this?" who have not answered (subscribers.sunset)
ASKED_FILTER = "asked"
FILTER_STATUSES = (*(s.value for s in Status), SUPPRESSED_FILTER, ASKED_FILTER)
NEWEST = (Subscriber.created_at.desc(), Subscriber.id.desc())  # the list's order
OLDEST = (Subscriber.created_at, Subscriber.id)


def _filtered(query, text: str, status: str | None, lang: str | None):
    if text.strip():
        query = query.where(Subscriber.email.contains(text.strip().lower(), autoescape=True))
    if status == SUPPRESSED_FILTER:
        query = query.where(Subscriber.status.in_(SUPPRESSED))
    elif status == ASKED_FILTER:
        query = query.where(Subscriber.status == Status.ACTIVE, Subscriber.asked_at.is_not(None))
    elif status:
        query = query.where(Subscriber.status == status)
    if lang:
        query = query.where(Subscriber.lang == lang)
    return query


# An address fragment's matches are counted up to this many; past it the desk says "more than". A
# fragment nearly every address holds ("example", ".com") would otherwise be counted row by row at each
# page (~150 ms at 1M readers); its first COUNTED + 1 matches are found in a few milliseconds.
COUNTED = 10_000


@dataclass
class Found:
    """One page of the list: its rows; how many match in all (`exact`), or for an address fragment that
    more than COUNTED addresses hold, COUNTED + 1 (not `exact`: "more than COUNTED"); and whether a page
    follows this one (`more`)."""

    rows: list[Subscriber]
    total: int
    exact: bool = True
    more: bool = False


def find(
    session: Session,
    text: str = "",
    *,
    status: str | None = None,
    lang: str | None = None,
    page: int = 1,
    per_page: int = 50,
    after: int | None = None,
    before: int | None = None,
) -> Found:
    """One page of the subscribers matching an address fragment, a status (or `suppressed`) and a language,
    newest first. `after` (`before`): the id of the last (first) subscriber of the page before (after)
    it, which the desk's next and previous links carry: that page is then read from where that
    subscriber stands in the list's order, however deep (its number is the caller's)."""
    if status and status not in FILTER_STATUSES:
        raise SubscriberError(f"status must be one of {', '.join(FILTER_STATUSES)}, not {status!r}")
    if lang:
        check_lang(lang)
    anchor = session.get(Subscriber, after or before) if (after or before) else None
    if text.strip():
        return _searched(session, text, status, lang, page, per_page, anchor, bool(after))
    count = _filtered(select(func.count()).select_from(Subscriber), text, status, lang)
    total = int(session.scalar(count) or 0)
    more = page * per_page < total
    if anchor is not None:
        key, at = tuple_(Subscriber.created_at, Subscriber.id), (anchor.created_at, anchor.id)
        near = _filtered(select(Subscriber), text, status, lang).limit(per_page)
        if after:
            found = list(session.scalars(near.where(key < tuple_(*at)).order_by(*NEWEST)))
        else:
            found = list(session.scalars(near.where(key > tuple_(*at)).order_by(*OLDEST)))[::-1]
        return Found(found, total, more=more)
    skip, take = (page - 1) * per_page, per_page
    ids = _filtered(select(Subscriber.id), text, status, lang)
    if skip + take / 2 > total / 2:
        # a page in the older half is read from the oldest end: the same rows, fewer index entries
        # walked past (the last page costs what the first does)
        take = min(per_page, total - skip)
        if take <= 0:
            return Found([], total)
        ids = ids.order_by(*OLDEST).offset(total - skip - take)
    else:
        ids = ids.order_by(*NEWEST).offset(skip)
    # the page's ids first, from the (created_at, id) index alone; then only those rows
    chosen = ids.limit(take).scalar_subquery()
    rows = session.scalars(select(Subscriber).where(Subscriber.id.in_(chosen)).order_by(*NEWEST))
    return Found(list(rows), total, more=more)


def _searched(session, text, status, lang, page, per_page, anchor, after: bool) -> Found:
    """find() for an address fragment. Its matches are counted up to COUNTED + 1, and the page's ids
    are read in the list's order, from the anchor when a link gives one, with one more to know whether
    a page follows. PostgreSQL's planner chooses by its estimate of the matches: few are picked out
    from the addresses' trigram index (migration 0031) and sorted; when most addresses match, the age
    index is walked and each row tested, which stops at the page (sorting every match took 1.4 s at
    1M readers)."""
    # planned for this fragment each time: a generic plan picked all of a broad fragment's matches from
    # the trigram index and sorted them (40 ms instead of 1 at 100k readers)
    custom_plans(session)
    matching = _filtered(select(Subscriber.id), text, status, lang)
    counted = select(func.count()).select_from(matching.limit(COUNTED + 1).subquery())
    total = int(session.scalar(counted) or 0)
    key = tuple_(Subscriber.created_at, Subscriber.id)
    at = tuple_(anchor.created_at, anchor.id) if anchor is not None else None
    if at is not None and not after:  # the page before the anchor's, which follows it
        ids = list(session.scalars(matching.where(key > at).order_by(*OLDEST).limit(per_page)))
        more = True
    else:
        if at is None:
            matching = matching.order_by(*NEWEST).offset((page - 1) * per_page)
        else:
            matching = matching.where(key < at).order_by(*NEWEST)
        ids = list(session.scalars(matching.limit(per_page + 1)))
        more = len(ids) > per_page
    rows = session.scalars(
        select(Subscriber).where(Subscriber.id.in_(ids[:per_page])).order_by(*NEWEST)
    )
    return Found(list(rows), total, exact=total <= COUNTED, more=more)


def history(session: Session, subscriber_id: int) -> list[Change]:
    return list(
        session.scalars(
            select(Change)
            .where(Change.subscriber_id == subscriber_id)
            .order_by(Change.at, Change.id)
        )
    )


def personal_data(session: Session, sub: Subscriber) -> dict:
    """Everything this package holds about one subscriber (GDPR access)."""
    return {
        **sub.as_dict(),
        "suppression": suppression.reason_for(session, sub.email),
        "history": [c.as_dict() for c in history(session, sub.id)],
    }


def counts(session: Session) -> dict[tuple[str, str], int]:
    """Subscribers by (lang, status)."""
    rows = session.execute(
        select(Subscriber.lang, Subscriber.status, func.count()).group_by(
            Subscriber.lang, Subscriber.status
        )
    )
    return {(lang, status): n for lang, status, n in rows}


class Shared(Protocol):
    """What cached_counts needs of the processes' shared store (mailer.kv)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, ttl: int | None = None) -> None: ...


COUNTS_KEY = "mailer:subscriber-counts"


def store_counts(session: Session, store: Shared, max_age: float) -> dict[tuple[str, str], int]:
    """Count the list now (counts) and keep the figures in the shared store for `max_age` seconds."""
    found = counts(session)
    with suppress(ConnectionError):  # the store is down: the figures are right, only not shared
        store.set(
            COUNTS_KEY,
            json.dumps([[lang, status, n] for (lang, status), n in found.items()]),
            ttl=max(1, round(max_age)),
        )
    return found


def cached_counts(session: Session, store: Shared, max_age: float) -> dict[tuple[str, str], int]:
    """counts() as some process counted them within `max_age` seconds (beat does it each minute): the
    dashboard and /metrics show them, and counting a million subscribers at each view and each scrape
    would take most of a second. Counted now when the store has none or does not answer."""
    try:
        kept = store.get(COUNTS_KEY)
    except ConnectionError:
        kept = None
    if kept:
        return {(lang, status): n for lang, status, n in json.loads(kept)}
    return store_counts(session, store, max_age)


def suppression_reason(session: Session, email: str) -> str | None:
    """Why an address is on the suppression list (erased, bounced, complained), or None."""
    return suppression.reason_for(session, normalize(email))


def suppression_facts(session: Session, subscribers: list[Subscriber]) -> dict[int, Change]:
    """For the suppression list: the history row that suppressed each bounced or complained reader of
    `subscribers` (its detail names the reason and the issue, its time the date). One query."""
    ids = [s.id for s in subscribers if s.status in SUPPRESSED]
    if not ids:
        return {}
    found: dict[int, Change] = {}
    for change in session.scalars(
        select(Change)
        .where(Change.subscriber_id.in_(ids), Change.action.in_(list(SUPPRESSED)))
        .order_by(Change.at, Change.id)
    ):
        found[change.subscriber_id] = change  # the latest wins
    return found
