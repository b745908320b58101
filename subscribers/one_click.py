"""The one-click unsubscribe (RFC 8058): the link's POST, committed before the answer, for the wave of
posts after every digest. On PostgreSQL an active subscriber costs one statement; anyone else goes
through service.unsubscribe in a transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import String, Table, bindparam, insert, literal, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from mailer.config import Settings
from mailer.db import UTCDateTime, utcnow
from subscribers import changes, tokens
from subscribers.models import Change, Status, Subscriber
from subscribers.service import from_token, unsubscribe

# PostgreSQL's one-click path: an active subscriber's unsubscribe and its history row in one statement (a
# data-modifying WITH), run on its own in autocommit: one round trip, no BEGIN or COMMIT, for the wave of
# one-click posts after every digest. One statement is atomic: both rows are written, or neither.
# Built once, like service._INSERT_CHANGE. The link-age rule is service._link_fits, spelled in SQL.
# the table, not the entity: no ORM bookkeeping for a row nobody loaded
_SUBSCRIBERS = cast(Table, Subscriber.__table__)
_NOW = bindparam("now", type_=UTCDateTime())
_CHANGED = (
    update(_SUBSCRIBERS)
    .where(
        _SUBSCRIBERS.c.id == bindparam("subscriber_id"),
        _SUBSCRIBERS.c.status == Status.ACTIVE,
        or_(
            _SUBSCRIBERS.c.created_at < bindparam("made_before", type_=UTCDateTime()),
            _SUBSCRIBERS.c.created_at > _NOW,
        ),
    )
    .values(status=Status.UNSUBSCRIBED, unsubscribed_at=_NOW, updated_at=_NOW)
    .returning(_SUBSCRIBERS.c.id, _SUBSCRIBERS.c.lang)
    .cte("changed")
)
_UNSUBSCRIBE_ACTIVE_LOGGED = select(_CHANGED.c.lang).add_cte(
    insert(cast(Table, Change.__table__))
    .from_select(
        ["subscriber_id", "at", "action", "source", "ip", "detail"],
        select(
            _CHANGED.c.id,
            _NOW,
            literal("unsubscribed"),
            bindparam("source", type_=String()),
            bindparam("ip", type_=String()),
            literal(changes.moved(Status.ACTIVE, Status.UNSUBSCRIBED)),
        ),
    )
    .cte("logged")
)
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def _made_before(claim: tokens.Claim) -> datetime:
    """_link_fits for SQL, as `created_at < :made_before OR created_at > :now`: a link that carries no time
    fits any row."""
    return _FAR_FUTURE if claim.issued_at is None else claim.issued_at + timedelta(seconds=1)


def unsubscribe_active_at_once(
    engine: Engine, token: str, settings: Settings, *, source: str, ip: str | None = None
) -> tuple[int, str] | None:
    """The one-click path on PostgreSQL: (id, lang) of the active subscriber the link names, unsubscribed
    and recorded, committed. None when the subscriber is not active (or named nobody), or the database
    is not PostgreSQL: then unsubscribe_by_link, in a transaction. InvalidToken for a bad link."""
    if engine.dialect.name != "postgresql":
        return None
    claim = tokens.read(tokens.UNSUBSCRIBE, token, settings)
    params = {
        "subscriber_id": claim.subscriber_id,
        "now": utcnow(),
        "made_before": _made_before(claim),
        "source": source,
        "ip": ip,
    }
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        lang = connection.execute(_UNSUBSCRIBE_ACTIVE_LOGGED, params).scalar()
    return None if lang is None else (claim.subscriber_id, lang)


def unsubscribe_by_link(
    session: Session, token: str, settings: Settings, *, source: str = "link", ip: str | None = None
) -> tuple[int, str]:
    """unsubscribe() for the subscriber an unsubscribe link names; returns their (id, lang). InvalidToken as
    from_token, with nothing changed."""
    sub, _ = from_token(session, tokens.UNSUBSCRIBE, token, settings)
    sub_id, lang = sub.id, sub.lang  # read now: unsubscribe() expires the row
    unsubscribe(session, sub_id, source=source, ip=ip)
    return sub_id, lang


def unsubscribe_by_link_committed(
    sessions: sessionmaker[Session],
    token: str,
    settings: Settings,
    *,
    source: str,
    ip: str | None = None,
) -> tuple[int, str]:
    """The one-click unsubscribe, committed: an active subscriber on PostgreSQL costs one statement;
    anyone else takes unsubscribe_by_link in a transaction. Returns (id, lang); InvalidToken for a bad link."""
    done = unsubscribe_active_at_once(sessions.kw["bind"], token, settings, source=source, ip=ip)
    if done is None:
        with sessions.begin() as session:
            done = unsubscribe_by_link(session, token, settings, source=source, ip=ip)
    return done
