"""Acting on stored webhook events: each one a state transition on a delivery (and, for bounces,
complaints and unsubscribes, on the subscriber). Safe to run twice; order of arrival does not matter:
delivery statuses only move up their rank, and suppressions are never undone by a later event.

Bounces are read as SendGrid sends them: one event, `bounce`, whose `type` is `bounce` (the address is
refused: suppressed at once) or `blocked` (this message was refused: a soft bounce, which suppresses only
after MAILER_SOFT_BOUNCE_LIMIT issues in a row, subscribers.bounces). `deferred` is a delay, not a bounce.
A machine's open (sg_machine_open, stored as `machine_open` by mailer.events.store) is no reader's."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import groupby

from sqlalchemy import bindparam, or_, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from mailer.config import Settings
from mailer.db import is_postgres
from mailer.delivery.models import Delivery, DeliveryStatus, below
from mailer.events.models import WebhookEvent
from subscribers import bounces, changes, sunset
from subscribers import service as subscribers
from subscribers.emails import InvalidEmail
from subscribers.models import Subscriber

log = logging.getLogger(__name__)
BATCH = 5000

DELIVERY_EFFECT = {
    "processed": DeliveryStatus.SENT,  # SendGrid has it: the evidence that reconciles a lost answer
    "deferred": DeliveryStatus.DEFERRED,
    "delivered": DeliveryStatus.DELIVERED,
    "open": DeliveryStatus.OPENED,
    "machine_open": DeliveryStatus.DELIVERED,  # a proxy fetched it: it arrived, nobody read it yet
    "click": DeliveryStatus.CLICKED,
    "bounce": DeliveryStatus.BOUNCED,  # hard or soft, this message bounced
    "blocked": DeliveryStatus.BOUNCED,  # no SendGrid event has this name; one stored once reads as soft
    "dropped": DeliveryStatus.DROPPED,
    "spamreport": DeliveryStatus.COMPLAINED,
    "unsubscribe": DeliveryStatus.UNSUBSCRIBED,
    "group_unsubscribe": DeliveryStatus.UNSUBSCRIBED,
}


# what a dropped message says about its address (SendGrid's `reason`)
DROPPED_REASON = {
    "bounced address": "bounced",
    "invalid": "bounced",
    "spam reporting address": "complained",
    "unsubscribed address": "unsubscribed",
}
SOFT_BOUNCE = "soft bounce"  # counted (subscribers.bounces), not a suppression by itself
SUBSCRIBER_EFFECT = {
    "blocked": SOFT_BOUNCE,
    "spamreport": "complained",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
}


def is_soft_bounce(event: str, payload: dict) -> bool:
    """A `bounce` of type `blocked` (SendGrid's soft bounce); any other `bounce` is hard."""
    return event == "blocked" or (
        event == "bounce" and str(payload.get("type") or "").lower() == "blocked"
    )


def _subscriber_effect(event: WebhookEvent) -> str | None:
    if event.event == "bounce":
        return SOFT_BOUNCE if is_soft_bounce(event.event, event.payload) else "bounced"
    if event.event == "dropped":
        reason = str(event.payload.get("reason") or "").lower()
        return next((effect for key, effect in DROPPED_REASON.items() if key in reason), None)
    return SUBSCRIBER_EFFECT.get(event.event)


def _apply_to_subscriber(
    session: Session, event: WebhookEvent, effect: str, settings: Settings
) -> None:
    """Suppress or unsubscribe the address, or count a soft bounce, through the subscribers services
    (which record the change)."""
    sub = None
    if event.delivery_id:
        subscriber_id = session.scalar(
            select(Delivery.subscriber_id).where(
                Delivery.id == event.delivery_id, *_of_issue(event.issue_id)
            )
        )
        sub = subscribers.get(session, subscriber_id) if subscriber_id else None
    if sub is None and event.email:
        try:
            sub = subscribers.get_by_email(session, event.email)
        except InvalidEmail:
            return
    if sub is None:
        return
    detail = changes.provider(
        event.event, str(event.payload.get("reason") or ""), issue=event.issue_id
    )
    if effect == SOFT_BOUNCE:
        if (
            event.issue_id is not None
        ):  # issues are what is counted; a lone mail's refusal is not one
            bounces.count_soft_bounce(session, sub.id, event.issue_id, settings.soft_bounce_limit)
    elif effect == "unsubscribed":
        subscribers.unsubscribe(session, sub.id, source="webhook")
    else:
        subscribers.mark_suppressed(session, sub.id, effect, source="webhook", detail=detail)


Key = tuple[int | None, int]  # (the issue its event names, a delivery id)


def _of_issue(issue_id: int | None) -> list:
    """The ledger rows of the issue an event names: on PostgreSQL, its partition alone is read (the
    ledger is partitioned by issue, mailer.partitions)."""
    return [Delivery.issue_id == issue_id] if issue_id is not None else []


def _by_issue(keys) -> list[tuple[int | None, list[int]]]:
    """Ids (of deliveries or of events) grouped by issue, in one stable order (issues, then ids)."""
    grouped: dict[int | None, list[int]] = defaultdict(list)
    for issue_id, delivery_id in keys:
        grouped[issue_id].append(delivery_id)
    order = sorted(grouped, key=lambda i: -1 if i is None else i)
    return [(i, sorted(grouped[i])) for i in order]


def _count_by_issue(session: Session, by_issue: dict[int, set[int]], *counts) -> None:
    """Readers an issue reached or engaged (by issue: their deliveries), handed to each of `counts`
    (subscribers.bounces, subscribers.sunset) with the issue's id, a chunk of readers at a time."""
    for issue_id, delivery_ids in sorted(by_issue.items()):
        ordered = sorted(delivery_ids)
        for start in range(0, len(ordered), 1000):
            readers = session.scalars(
                select(Delivery.subscriber_id).where(
                    Delivery.issue_id == issue_id,
                    Delivery.id.in_(ordered[start : start + 1000]),
                    Delivery.subscriber_id.is_not(None),
                )
            ).all()
            for count in counts:
                count(session, issue_id, [r for r in readers if r is not None])


def _lock_deliveries(session: Session, keys: set[Key]) -> None:
    if not keys or not is_postgres(session):  # SQLite locks the whole file at the first write
        return
    for issue_id, ordered in _by_issue(keys):
        for start in range(0, len(ordered), 1000):
            session.execute(
                select(Delivery.id)
                .where(Delivery.id.in_(ordered[start : start + 1000]), *_of_issue(issue_id))
                .order_by(Delivery.id)
                .with_for_update()
            ).all()


def _engagement(event: WebhookEvent) -> str | None:
    """The subscriber's engagement column this event moves, if any. An open that SendGrid flags as a
    machine's (Apple's Mail Privacy Protection fetches every image) says nothing of the reader."""
    if event.event == "delivered":
        return "last_delivered_at"
    if event.event == "click" or (
        event.event == "open" and not (event.payload or {}).get("sg_machine_open")
    ):
        return "last_engaged_at"
    return None


def _latest_by_subscriber(
    session: Session, by_delivery: dict[Key, datetime]
) -> dict[int, datetime]:
    """{subscriber id: latest moment} from {(issue, delivery id): latest moment}, through the ledger."""
    found: dict[int, datetime] = {}
    for issue_id, ids in _by_issue(by_delivery):
        for start in range(0, len(ids), 1000):
            rows = session.execute(
                select(Delivery.id, Delivery.subscriber_id).where(
                    Delivery.id.in_(ids[start : start + 1000]), *_of_issue(issue_id)
                )
            )
            for delivery_id, subscriber_id in rows:
                if subscriber_id is None:  # erased
                    continue
                at, seen = by_delivery[(issue_id, delivery_id)], found.get(subscriber_id)
                found[subscriber_id] = max(at, seen) if seen else at
    return found


def _record_engagement(session: Session, latest: dict[str, dict[Key, datetime]]) -> None:
    """Move each subscriber's engagement column forward to the latest event seen (never back: events
    arrive out of order). The subscriber is found through the delivery the event names."""
    for column_name, by_delivery in latest.items():
        found = _latest_by_subscriber(session, by_delivery)
        if not found:
            continue
        ids = sorted(found)  # the same lock order in every worker
        if session.get_bind().dialect.name == "postgresql":
            # one statement for the chunk: a row at a time cost a third of apply's throughput
            session.execute(
                text(
                    f"UPDATE subscribers s SET {column_name} = v.moment FROM "
                    "unnest(CAST(:ids AS integer[]), CAST(:moments AS timestamp[])) AS v(id, moment) "
                    f"WHERE s.id = v.id AND (s.{column_name} IS NULL OR s.{column_name} < v.moment)"
                ),
                {
                    "ids": ids,
                    "moments": [found[i].astimezone(UTC).replace(tzinfo=None) for i in ids],
                },
            )
            continue
        column = getattr(Subscriber, column_name)
        statement = (
            update(Subscriber)
            .where(
                Subscriber.id == bindparam("subscriber"),
                or_(column.is_(None), column < bindparam("moment")),
            )
            # a fact about the reader's mail, not a change of the subscriber's record
            .values({column_name: bindparam("moment"), "updated_at": Subscriber.updated_at})
        )
        session.connection().execute(
            statement, [{"subscriber": i, "moment": found[i]} for i in ids]
        )


def _mark_processed(session: Session, events: Sequence[WebhookEvent], now: datetime) -> None:
    """Stamp the events applied, issue by issue: each statement names its issue, so that on PostgreSQL
    it reads that one partition of the events (mailer.partitions) where an id alone would look into
    every partition's index of a year of events."""
    for issue_id, ids in _by_issue([(e.issue_id, e.id) for e in events]):
        same = (
            WebhookEvent.issue_id.is_(None)
            if issue_id is None
            else WebhookEvent.issue_id == issue_id
        )
        for start in range(0, len(ids), 1000):
            session.execute(
                update(WebhookEvent)
                .where(WebhookEvent.id.in_(ids[start : start + 1000]), same)
                .values(processed_at=now)
                .execution_options(synchronize_session=False)
            )
    for event in events:  # what the rows now hold, without the ORM's own UPDATE by id
        set_committed_value(event, "processed_at", now)


def apply_pending(session: Session, now: datetime, settings: Settings, limit: int = BATCH) -> int:
    """Apply up to `limit` stored, unapplied events; returns how many were applied."""
    events = session.scalars(
        select(WebhookEvent)
        .where(WebhookEvent.processed_at.is_(None))
        .order_by(WebhookEvent.id)
        .limit(limit)
        .with_for_update(
            skip_locked=True
        )  # two events tasks take different events, never the same ones
    ).all()
    moves: dict[DeliveryStatus, set[Key]] = defaultdict(set)
    delivered: dict[int, set[int]] = defaultdict(set)
    latest: dict[str, dict[Key, datetime]] = defaultdict(dict)
    engaged: dict[int, set[int]] = defaultdict(set)  # issue: deliveries a human opened or clicked
    for event in events:
        key = (event.issue_id, event.delivery_id or 0)
        status = DELIVERY_EFFECT.get(event.event)
        if status and event.delivery_id:
            moves[status].add(key)
        if event.event == "delivered" and event.delivery_id and event.issue_id is not None:
            delivered[event.issue_id].add(event.delivery_id)
        engagement = _engagement(event)
        if engagement and event.delivery_id:
            at = event.occurred_at or now
            seen = latest[engagement].get(key)
            latest[engagement][key] = max(at, seen) if seen else at
            if engagement == "last_engaged_at" and event.issue_id is not None:
                engaged[event.issue_id].add(event.delivery_id)
    _mark_processed(session, events, now)
    # Two of these at once (two events tasks, or posts applied in process) take different events that
    # may name the same deliveries and subscribers: each locks them in one order (deliveries by id,
    # then subscribers by the events' issue, delivery id and address; a later issue's deliveries
    # have later ids), so one waits for the other, never both for each other.
    _lock_deliveries(session, set().union(*moves.values()))
    in_order = sorted(
        events, key=lambda e: (e.issue_id or 0, e.delivery_id or 0, e.email or "", e.id)
    )
    for issue_id, of_issue in groupby(in_order, key=lambda e: e.issue_id or 0):
        for event in of_issue:
            effect = _subscriber_effect(event)
            if effect:
                _apply_to_subscriber(session, event, effect, settings)
        # issue by issue: a soft-bounce count is a streak of issues, whatever order the chunk came in
        if issue_id in delivered:
            # (the sunset's unread count is moved once per issue, days later: mailer.events.unread)
            _count_by_issue(session, {issue_id: delivered[issue_id]}, bounces.count_delivered)
    for status, keys in sorted(moves.items()):
        for issue_id, ordered in _by_issue(keys):
            for start in range(0, len(ordered), 1000):
                session.execute(
                    update(Delivery)
                    .where(
                        Delivery.id.in_(ordered[start : start + 1000]),
                        *_of_issue(issue_id),
                        Delivery.status.in_(below(status)),
                    )
                    .values(status=status, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
    session.flush()
    _record_engagement(session, latest)
    # after the chunk's deliveries: of an issue delivered and read in one chunk, the read stands
    _count_by_issue(session, engaged, sunset.count_engaged)
    return len(events)
