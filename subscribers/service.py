"""Subscription changes. Other packages call these; none reaches into the tables by hand.

Every change also writes a row of history (what, how, when, from which IP) in the caller's
transaction. Callers commit before they answer, so a change that was answered is never lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, insert, literal, select
from sqlalchemy.orm import Session

from mailer.config import Settings
from mailer.db import compare_and_set, upsert_insert, utcnow
from mailer.langs import EDITIONS
from subscribers import changes, suppression, tokens
from subscribers.emails import normalize
from subscribers.models import SUPPRESSED, Change, Status, Subscriber, SuppressionReason

# Mail a sign-up request sends (see confirmation_kind).
CONFIRM_MAIL = "confirm"  # not subscribed yet: a link to confirm
ALREADY_MAIL = "already"  # already subscribed: a link to the preferences instead
REJOINED = "rejoined"  # the history action of a reader who signed up again after a hard bounce


class SubscriberError(ValueError):
    pass


class NotAllowed(SubscriberError):
    """A change the subscriber's state forbids; `code` names it for pages that translate it."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def check_lang(lang: str) -> None:
    if lang not in EDITIONS:
        raise SubscriberError(f"language must be one of {', '.join(EDITIONS)}, not {lang!r}")


# Built once, not per call: building a statement cost about as much CPU as running it (one-click unsubscribes
# come in waves when a digest goes out).
# (declarative's __table__ is typed FromClause; it is a Table)
_INSERT_CHANGE = insert(cast(Table, Change.__table__))


def _record(
    session: Session,
    subscriber_id: int,
    action: str,
    source: str,
    *,
    ip: str | None = None,
    detail: str | None = None,
    now: datetime | None = None,
) -> None:
    session.execute(
        _INSERT_CHANGE,
        {
            "subscriber_id": subscriber_id,
            "at": now or utcnow(),
            "action": action,
            "source": source,
            "ip": ip,
            "detail": detail,
        },
    )


# For the package's other modules (subscribers.bounces, ...): one way to write history.
record = _record


def get(session: Session, subscriber_id: int) -> Subscriber | None:
    return session.get(Subscriber, subscriber_id)


def get_by_email(session: Session, email: str) -> Subscriber | None:
    return session.scalar(select(Subscriber).where(Subscriber.email == normalize(email)))


# A link made before its subscriber's row was made for someone else: an erased subscriber whose id the
# database handed out again. Tokens carry whole seconds, so the row's time is compared truncated. A row
# dated in the future was dated by hand (an import from before times were clamped), not made again after
# the link, so its date never refuses a link: it would refuse every unsubscribe until then. The same
# rule twice, in Python for a loaded row and in SQL (_made_before) for the one-click statement that loads
# none; a test pins them together.
def _link_fits(claim: tokens.Claim, created_at: datetime, now: datetime) -> bool:
    return (
        claim.issued_at is None
        or created_at.replace(microsecond=0) <= claim.issued_at
        or created_at > now
    )


def _named_by(session: Session, claim: tokens.Claim) -> Subscriber:
    sub = session.get(Subscriber, claim.subscriber_id)
    if sub is None or not _link_fits(claim, sub.created_at, utcnow()):
        raise tokens.InvalidToken()
    return sub


def from_token(
    session: Session, purpose: str, token: str, settings: Settings
) -> tuple[Subscriber, tokens.Claim]:
    """The subscriber a link names. InvalidToken when it is bad, or names nobody (any more)."""
    claim = tokens.read(purpose, token, settings)
    return _named_by(session, claim), claim


def add(
    session: Session,
    email: str,
    lang: str,
    *,
    confirmed: bool = False,
    source: str = "cli",
    ip: str | None = None,
) -> tuple[Subscriber, bool]:
    """Add a subscriber, or return the existing one unchanged. Returns (subscriber, created).

    A suppressed address (erased, bounced, complained) is refused: only its owner can bring it
    back (an erased or hard-bounced one), by signing up again on the subscribe page.
    """
    check_lang(lang)
    address = normalize(email)
    existing = session.scalar(select(Subscriber).where(Subscriber.email == address))
    if existing is not None:
        return existing, False
    reason = suppression.reason_for(session, address)
    if reason is not None:
        raise NotAllowed(
            f"{address} is on the suppression list ({reason}) and cannot be added", "suppressed"
        )
    now = utcnow()
    sub = Subscriber(
        email=address,
        lang=lang,
        consent_source=source,
        consent_at=now,
        consent_ip=ip,
        status=Status.ACTIVE if confirmed else Status.PENDING,
        confirmed_at=now if confirmed else None,
    )
    session.add(sub)
    session.flush()
    _record(
        session, sub.id, "added", source, ip=ip, detail=changes.added(sub.status, lang), now=now
    )
    return sub, True


def latest_change(session: Session, subscriber_id: int, action: str) -> Change | None:
    """A reader's latest history row of this action (the bounce or complaint that suppressed them)."""
    return session.scalars(
        select(Change)
        .where(Change.subscriber_id == subscriber_id, Change.action == action)
        .order_by(Change.at.desc(), Change.id.desc())
        .limit(1)
    ).first()


def _hard(sub: Subscriber | None, bounce: Change | None) -> bool:
    """Suppressed for a hard bounce: the row that bounced them is no count of soft bounces."""
    soft = bounce is not None and changes.is_soft(bounce.detail)
    return sub is not None and sub.status == Status.BOUNCED and not soft


def bounced_hard(session: Session, sub: Subscriber) -> bool:
    """Whether the reader's address bounced hard: suppressed for it, or erased after a bounce and signed
    up again. A bounce is no word of the reader's (a full disk, a mailbox since restored): they may sign
    up again themselves, and their confirmation proves the address works. SendGrid still lists it."""
    if sub.status == Status.BOUNCED:
        return _hard(sub, latest_change(session, sub.id, Status.BOUNCED))
    return (
        sub.status != Status.COMPLAINED
        and suppression.reason_for(session, sub.email) == SuppressionReason.BOUNCED
    )


def request_subscription(
    session: Session, email: str, lang: str, *, ip: str | None = None, now: datetime | None = None
) -> int | None:
    """A sign-up from the web form. Returns the subscriber to mail (see confirmation_kind), or None.

    Changes no existing subscriber: the requester may not be the address's owner. The language
    chosen travels in the confirmation link instead and takes effect when the owner confirms (a
    hard-bounced reader too: they stay bounced until then). Callers answer every request alike,
    whatever this returns: the page must not tell who is known.
    """
    check_lang(lang)
    address = normalize(email)
    now = now or utcnow()
    # The same statements for a new and a known address, so that the answer's time tells nobody which it
    # was: the suppression list is read, and the insert tried (it adds nothing for an address on file, and
    # of two sign-ups racing for one address, one adds it), for every request alike. An address erased
    # after a complaint is not added back; one erased after a bounce comes back pending, as an erased one.
    refused = suppression.reason_for(session, address) == SuppressionReason.COMPLAINED
    row = {
        "email": address,
        "lang": lang,
        "status": Status.PENDING.value,
        "consent_source": "web",
        "consent_at": now,
        "consent_ip": ip,
        "created_at": now,
        "updated_at": now,
    }
    values = [literal(v, Subscriber.__table__.c[k].type) for k, v in row.items()]
    session.execute(
        upsert_insert(session, Subscriber)
        .from_select(list(row), select(*values).where(literal(not refused)))
        .on_conflict_do_nothing(index_elements=["email"])
    )
    sub = session.scalar(select(Subscriber).where(Subscriber.email == address))
    # Read for everyone (nobody's id for an address not on file): whether a bounce was hard.
    suppressing = latest_change(session, sub.id if sub else 0, Status.BOUNCED)
    # Mailed: anyone but a complaint or a soft bounce (the desk re-enables those); a hard bounce is
    # asked to confirm again.
    mailed = sub is not None and (sub.status not in SUPPRESSED or _hard(sub, suppressing))
    # The history row through one statement whoever is on file: it adds nothing for one not mailed.
    history = {
        "subscriber_id": Subscriber.id,
        "at": literal(now, Change.__table__.c.at.type),
        "action": literal("sign-up requested"),
        "source": literal("web"),
        "ip": literal(ip, Change.__table__.c.ip.type),
        "detail": literal(changes.requested(lang)),
    }
    session.execute(
        _INSERT_CHANGE.from_select(
            list(history),
            select(*history.values()).where(Subscriber.email == address, literal(mailed)),
        )
    )
    return sub.id if sub is not None and mailed else None


def confirmation_kind(sub: Subscriber | None, *, bounced_hard: bool = False) -> str | None:
    """Which mail a sign-up request sends: a link to confirm, a note that they already are, or none.
    A reader suppressed for a hard bounce (`bounced_hard`) is asked to confirm again."""
    if sub is None or (sub.status in SUPPRESSED and not bounced_hard):
        return None
    return ALREADY_MAIL if sub.status == Status.ACTIVE else CONFIRM_MAIL


def check_confirmable(session: Session, sub: Subscriber, claim: tokens.Claim) -> None:
    """NotAllowed or InvalidToken if this confirmation link may not (re)start this subscription."""
    if sub.status in SUPPRESSED:
        bounce = latest_change(session, sub.id, sub.status)
        if not _hard(sub, bounce):
            raise NotAllowed(f"{sub.email} is suppressed ({sub.status})", "suppressed")
        if bounce is not None and _older(claim, bounce.at):
            raise tokens.InvalidToken()  # a link from before the bounce, not a sign-up since
    if sub.status == Status.UNSUBSCRIBED and _older(claim, sub.unsubscribed_at):
        # A link from before they unsubscribed (a scanner, an old mail), not a new wish to subscribe.
        raise tokens.InvalidToken()


def _older(claim: tokens.Claim, than: datetime | None) -> bool:
    return (
        than is not None
        and claim.issued_at is not None
        and than.replace(microsecond=0) > claim.issued_at
    )


def confirm(
    session: Session,
    sub: Subscriber,
    claim: tokens.Claim,
    *,
    ip: str | None = None,
    now: datetime | None = None,
) -> Subscriber:
    """The double opt-in link was followed. Following it again changes nothing.

    A reader whose address bounced hard comes back too: active, a history row saying they signed up
    again, and off the suppression list. (SendGrid's own bounce list is the caller's to clear.)"""
    now = now or utcnow()
    if sub.status == Status.ACTIVE:
        return sub
    check_confirmable(session, sub, claim)
    before = sub.status
    rejoined = bounced_hard(session, sub)
    if before in (Status.UNSUBSCRIBED, Status.BOUNCED):  # a new consent, given on the form now
        sub.consent_source, sub.consent_at, sub.consent_ip = "web", now, ip
    sub.status, sub.confirmed_at, sub.unsubscribed_at = Status.ACTIVE, now, None
    if rejoined:
        sub.soft_bounces = 0
    if claim.lang:
        sub.lang = claim.lang
    suppression.lift(session, sub.email, bounce=rejoined)
    _record(
        session,
        sub.id,
        REJOINED if rejoined else "confirmed",
        "link",
        ip=ip,
        detail=changes.moved(before, Status.ACTIVE, sub.lang),
        now=now,
    )
    session.flush()
    return sub


def unsubscribe(
    session: Session, subscriber_id: int, *, source: str = "link", ip: str | None = None
) -> Subscriber | None:
    """Idempotent; a suppressed address stays suppressed (it is already not mailed)."""
    sub = session.get(Subscriber, subscriber_id)
    if sub is None:
        return None
    if sub.status not in SUPPRESSED and sub.status != Status.UNSUBSCRIBED:
        before, now = sub.status, utcnow()
        session.flush()
        # compare-and-set: of two unsubscribes racing (a one-click and the preference centre), one records it
        if compare_and_set(
            session,
            Subscriber,
            sub.id,
            {before},
            status=Status.UNSUBSCRIBED,
            unsubscribed_at=now,
            updated_at=now,
        ):
            _record(
                session,
                sub.id,
                "unsubscribed",
                source,
                ip=ip,
                detail=changes.moved(before, Status.UNSUBSCRIBED),
                now=now,
            )
        session.expire(sub)  # written past the session
    return sub


def resubscribe(
    session: Session,
    sub: Subscriber,
    *,
    source: str = "web",
    ip: str | None = None,
    now: datetime | None = None,
) -> Subscriber:
    """From the preference centre, whose link proves the address. Never undoes a bounce or complaint,
    and never activates an address that was not confirmed."""
    if sub.status in SUPPRESSED:
        raise NotAllowed(
            f"{sub.email} is suppressed ({sub.status}) and cannot be resubscribed", "suppressed"
        )
    if sub.status == Status.ACTIVE:
        return sub
    if sub.status == Status.PENDING or sub.confirmed_at is None:
        # a preferences link reaches a pending address too (the confirmation mail carries one): the
        # address is confirmed by the confirmation link alone, never by this
        raise NotAllowed(
            f"{sub.email} never confirmed its subscription and cannot be resubscribed",
            "unconfirmed",
        )
    now = now or utcnow()
    before = sub.status
    sub.status, sub.unsubscribed_at = Status.ACTIVE, None
    sub.confirmed_at = sub.confirmed_at or now
    sub.consent_source, sub.consent_at, sub.consent_ip = source, now, ip
    suppression.lift(session, sub.email)
    _record(
        session,
        sub.id,
        "resubscribed",
        source,
        ip=ip,
        detail=changes.moved(before, Status.ACTIVE),
        now=now,
    )
    return sub


def set_lang(
    session: Session, sub: Subscriber, lang: str, *, source: str = "web", ip: str | None = None
) -> bool:
    check_lang(lang)
    if sub.lang == lang:
        return False
    before, sub.lang = sub.lang, lang
    _record(
        session,
        sub.id,
        "language changed",
        source,
        ip=ip,
        detail=changes.lang_changed(before, lang),
    )
    return True


def mark_suppressed(
    session: Session,
    subscriber_id: int,
    status: str,
    *,
    source: str = "webhook",
    detail: str | None = None,
) -> Subscriber | None:
    """A bounce or complaint: the address is mailed no more, and nothing silently undoes that. `detail`
    is stored as given (subscribers.changes.provider(...), or plain text); by default, the move."""
    if status not in SUPPRESSED:
        raise SubscriberError(f"a suppression is bounced or complained, not {status!r}")
    sub = session.get(Subscriber, subscriber_id)
    if sub is None or sub.status == status:
        return sub
    before, sub.status = sub.status, Status(status)
    _record(session, sub.id, status, source, detail=detail or changes.moved(before, status))
    return sub


def remove(session: Session, email: str) -> Subscriber:
    """`mailer subscribers remove`: stop mailing an address but keep it on file, so no import brings it back."""
    sub = get_by_email(session, email)
    if sub is None:
        raise SubscriberError(f"no subscriber {normalize(email)}")
    unsubscribe(session, sub.id, source="cli")
    return sub  # the same row: the session's identity map holds one object per id


def erase(session: Session, email: str) -> bool:
    """GDPR erasure: delete the subscriber and their history, keep only a hash on the suppression list.

    Returns whether a subscriber was on file; the address is listed either way (the owner asked
    never to be mailed). Data other packages hold about them is theirs to clear first (mailer.events.privacy).
    """
    address = normalize(email)
    sub = session.scalar(select(Subscriber).where(Subscriber.email == address))
    reason = (
        sub.status if sub is not None and sub.status in SUPPRESSED else SuppressionReason.ERASED
    )
    suppression.suppress(session, address, reason)
    if sub is None:
        return False
    session.execute(delete(Change).where(Change.subscriber_id == sub.id))
    session.delete(sub)
    session.flush()
    return True
