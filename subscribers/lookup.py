"""Reading the subscriber list: the desk's search, counts, one subscriber's history and personal
data, and why an address is suppressed."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

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


def search_page(
    session: Session,
    text: str = "",
    *,
    status: str | None = None,
    lang: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Subscriber], int]:
    """One page of the subscribers matching an address fragment, a status (or `suppressed`) and a language,
    newest first, and how many match in all."""
    if status and status not in FILTER_STATUSES:
        raise SubscriberError(f"status must be one of {', '.join(FILTER_STATUSES)}, not {status!r}")
    if lang:
        check_lang(lang)
    total = session.scalar(
        _filtered(select(func.count()).select_from(Subscriber), text, status, lang)
    )
    rows = session.scalars(
        _filtered(select(Subscriber), text, status, lang)
        .order_by(Subscriber.created_at.desc(), Subscriber.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(rows), int(total or 0)


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
