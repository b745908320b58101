"""Subscription changes as the service makes them: states, suppressions, history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from subscribers import changes, lookup, one_click, service, tokens
from subscribers.models import Change, Status, Subscriber
from subscribers.suppression import suppress
from tests.factories import search_page


@pytest.fixture
def links_made_earlier(monkeypatch):
    """Links made a minute ago, so that a row can be made after its link and still not in the future
    (a row dated in the future fits every link: it was dated by hand, not made again)."""
    import time

    monkeypatch.setattr(tokens, "_stamp", lambda: b"." + tokens._b64_time(int(time.time()) - 60))


def _claim(sub, settings, lang=None, **kw):
    return tokens.read(
        tokens.CONFIRM,
        tokens.make_token(tokens.CONFIRM, sub.id, settings, lang=lang, **kw),
        settings,
    )


def _actions(session, sub):
    return [c.action for c in lookup.history(session, sub.id)]


def test_add_normalizes_keeps_the_first_and_records_it(session):
    sub, created = service.add(session, "  Hana@Example.COM", "ko", source="cli")
    assert created and sub.email == "hana@example.com" and sub.status == Status.PENDING
    again, created = service.add(session, "HANA@example.com", "en", confirmed=True)
    assert (
        not created and again.id == sub.id and again.lang == "ko" and again.status == Status.PENDING
    )
    assert _actions(session, sub) == ["added"]


@pytest.mark.parametrize("reason", ["erased", "bounced", "complained"])
def test_add_refuses_a_suppressed_address(session, reason):
    suppress(session, "gone@example.com", reason)
    with pytest.raises(service.NotAllowed, match="suppression list"):
        service.add(session, "Gone@example.com", "ko", confirmed=True)
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_add_refuses_an_unknown_language(session):
    with pytest.raises(service.SubscriberError, match="language"):
        service.add(session, "a@example.com", "fr")


def test_a_web_request_creates_a_pending_subscriber_with_its_consent_record(session):
    sub_id = service.request_subscription(session, "new@example.com", "both", ip="198.51.100.4")
    sub = service.get(session, sub_id)
    assert (sub.status, sub.lang, sub.consent_source, sub.consent_ip) == (
        Status.PENDING,
        "both",
        "web",
        "198.51.100.4",
    )
    assert sub.consent_at is not None and sub.confirmed_at is None
    change = lookup.history(session, sub_id)[0]
    assert (change.action, change.source, change.ip, changes.english(change.detail)) == (
        "sign-up requested",
        "web",
        "198.51.100.4",
        "lang both",
    )


def test_a_web_request_changes_no_known_subscriber(session):
    active, _ = service.add(session, "active@example.com", "ko", confirmed=True)
    gone, _ = service.add(session, "gone@example.com", "ko", confirmed=True)
    service.unsubscribe(session, gone.id)
    assert service.request_subscription(session, "active@example.com", "en") == active.id
    assert service.request_subscription(session, "gone@example.com", "en") == gone.id
    assert (active.lang, active.status) == ("ko", Status.ACTIVE)
    assert (gone.lang, gone.status) == ("ko", Status.UNSUBSCRIBED)
    assert service.confirmation_kind(active) == service.ALREADY_MAIL
    assert service.confirmation_kind(gone) == service.CONFIRM_MAIL


def test_a_web_request_for_a_complained_or_softly_bounced_address_mails_nobody(session):
    complained, _ = service.add(session, "complained@example.com", "ko", confirmed=True)
    service.mark_suppressed(session, complained.id, Status.COMPLAINED)
    soft, _ = service.add(session, "soft@example.com", "ko", confirmed=True)
    service.mark_suppressed(session, soft.id, Status.BOUNCED, detail=changes.soft_bounces(3))
    suppress(session, "complained-then-erased@example.com", "complained")
    for address in ("complained", "soft", "complained-then-erased"):
        assert service.request_subscription(session, f"{address}@example.com", "ko") is None
    assert service.get_by_email(session, "complained-then-erased@example.com") is None
    assert service.confirmation_kind(complained) is None
    assert not service.bounced_hard(session, soft) and not service.bounced_hard(session, complained)
    assert _actions(session, complained) == ["added", "complained"]


def test_a_hard_bounced_reader_who_signs_up_again_is_asked_to_confirm(session, settings):
    sub, _ = service.add(session, "hard@example.com", "ko", confirmed=True)
    service.mark_suppressed(
        session, sub.id, Status.BOUNCED, detail=changes.provider("bounce", "550 5.1.1 no such user")
    )
    sub.soft_bounces = 2
    old = _claim(sub, settings)  # made before the bounce was recorded
    session.query(Change).filter_by(subscriber_id=sub.id, action="bounced").update(
        {"at": old.issued_at + timedelta(seconds=5)}
    )
    assert service.request_subscription(session, "hard@example.com", "en") == sub.id
    assert service.bounced_hard(session, sub)
    assert service.confirmation_kind(sub, bounced_hard=True) == service.CONFIRM_MAIL
    assert sub.status == Status.BOUNCED  # nothing changes before the confirmation
    with pytest.raises(tokens.InvalidToken):  # a link from before the bounce is no new sign-up
        service.confirm(session, sub, old)
    newer = tokens.Claim(sub.id, old.issued_at + timedelta(seconds=10), "en")
    service.confirm(session, sub, newer, ip="192.0.2.4")
    assert (sub.status, sub.lang, sub.soft_bounces) == (Status.ACTIVE, "en", 0)
    assert (sub.consent_source, sub.consent_ip) == ("web", "192.0.2.4")
    assert {"sign-up requested", service.REJOINED} <= set(_actions(session, sub))
    assert not service.bounced_hard(session, sub)


def test_an_address_erased_after_a_bounce_comes_back_by_a_confirmed_sign_up(session, settings):
    sub, _ = service.add(session, "gone@example.com", "ko", confirmed=True)
    service.mark_suppressed(session, sub.id, Status.BOUNCED)
    service.erase(session, "gone@example.com")
    again = service.get(session, service.request_subscription(session, "gone@example.com", "ko"))
    assert again.status == Status.PENDING and service.bounced_hard(session, again)
    assert lookup.suppression_reason(session, "gone@example.com") == "bounced"  # until confirmed
    service.confirm(session, again, _claim(again, settings))
    assert again.status == Status.ACTIVE
    assert lookup.suppression_reason(session, "gone@example.com") is None
    assert sorted(_actions(session, again)) == [service.REJOINED, "sign-up requested"]


def test_confirming_activates_in_the_language_of_the_link_once(session, settings):
    sub = service.get(session, service.request_subscription(session, "c@example.com", "ko"))
    service.confirm(session, sub, _claim(sub, settings, "en"), ip="192.0.2.1")
    assert (sub.status, sub.lang) == (Status.ACTIVE, "en") and sub.confirmed_at is not None
    service.confirm(session, sub, _claim(sub, settings, "both"))  # again: nothing changes
    assert sub.lang == "en"
    assert _actions(session, sub) == ["sign-up requested", "confirmed"]


def test_confirming_after_unsubscribing_needs_a_newer_link(session, settings):
    sub = service.get(session, service.request_subscription(session, "u@example.com", "ko"))
    old = _claim(sub, settings)
    service.confirm(session, sub, old)
    service.unsubscribe(session, sub.id)
    sub.unsubscribed_at = old.issued_at + timedelta(
        seconds=5
    )  # unsubscribed after the link was made
    with pytest.raises(tokens.InvalidToken):
        service.confirm(session, sub, old)
    assert sub.status == Status.UNSUBSCRIBED
    newer = tokens.Claim(sub.id, sub.unsubscribed_at + timedelta(seconds=1), "ko")
    service.confirm(session, sub, newer)
    assert sub.status == Status.ACTIVE and sub.unsubscribed_at is None


def test_a_suppressed_subscriber_cannot_confirm_or_resubscribe(session, settings):
    sub, _ = service.add(session, "s@example.com", "ko")
    service.mark_suppressed(session, sub.id, Status.COMPLAINED)
    with pytest.raises(service.NotAllowed):
        service.confirm(session, sub, _claim(sub, settings))
    with pytest.raises(service.NotAllowed):
        service.resubscribe(session, sub)
    assert sub.status == Status.COMPLAINED
    assert service.unsubscribe(session, sub.id).status == Status.COMPLAINED  # stays suppressed


def test_unsubscribe_is_idempotent_and_recorded_once(session):
    sub, _ = service.add(session, "x@example.com", "en", confirmed=True)
    for _ in range(3):
        service.unsubscribe(session, sub.id, source="one-click", ip="203.0.113.9")
    assert sub.status == Status.UNSUBSCRIBED and sub.unsubscribed_at is not None
    assert _actions(session, sub) == ["added", "unsubscribed"]
    assert service.unsubscribe(session, 999_999) is None


def test_resubscribe_and_language_changes(session):
    sub, _ = service.add(session, "r@example.com", "en", confirmed=True)
    service.unsubscribe(session, sub.id)
    service.resubscribe(session, sub, source="preferences", ip="192.0.2.7")
    assert sub.status == Status.ACTIVE and sub.consent_ip == "192.0.2.7"
    assert service.set_lang(session, sub, "ko") and not service.set_lang(session, sub, "ko")
    with pytest.raises(service.SubscriberError):
        service.set_lang(session, sub, "jp")
    assert sub.lang == "ko"
    assert _actions(session, sub) == ["added", "unsubscribed", "resubscribed", "language changed"]


def test_remove_unsubscribes_and_keeps_the_record(session):
    service.add(session, "rm@example.com", "ko", confirmed=True)
    assert service.remove(session, "RM@example.com").status == Status.UNSUBSCRIBED
    with pytest.raises(service.SubscriberError, match="no subscriber"):
        service.remove(session, "nobody@example.com")


def test_erase_deletes_the_person_and_keeps_only_a_hash(session):
    sub, _ = service.add(session, "erase@example.com", "ko", confirmed=True)
    service.unsubscribe(session, sub.id)
    session.commit()
    assert service.erase(session, "Erase@Example.com")
    session.commit()
    assert service.get_by_email(session, "erase@example.com") is None
    assert session.scalar(select(func.count()).select_from(Change)) == 0
    assert lookup.suppression_reason(session, "erase@example.com") == "erased"
    assert not service.erase(session, "never-here@example.com")  # listed anyway: never mail it
    assert lookup.suppression_reason(session, "never-here@example.com") == "erased"


def test_erasing_a_bounced_subscriber_keeps_the_bounce(session):
    sub, _ = service.add(session, "b@example.com", "ko", confirmed=True)
    service.mark_suppressed(session, sub.id, Status.BOUNCED)
    service.erase(session, "b@example.com")
    assert lookup.suppression_reason(session, "b@example.com") == "bounced"


def test_a_link_made_before_its_subscriber_existed_names_nobody(
    session, links_made_earlier, settings
):
    sub, _ = service.add(session, "late@example.com", "ko", confirmed=True)
    sub.created_at -= timedelta(minutes=2)  # made before its link
    token = tokens.make_token(tokens.PREFERENCES, sub.id, settings)
    assert service.from_token(session, tokens.PREFERENCES, token, settings)[0] is sub
    issued_at = tokens.read(tokens.PREFERENCES, token, settings).issued_at
    sub.created_at = issued_at + timedelta(seconds=5)  # as if the id had been handed out again
    with pytest.raises(tokens.InvalidToken):
        service.from_token(session, tokens.PREFERENCES, token, settings)
    with pytest.raises(tokens.InvalidToken):
        service.from_token(
            session,
            tokens.PREFERENCES,
            tokens.make_token(tokens.PREFERENCES, 999_999, settings),
            settings,
        )


def test_personal_data_holds_the_record_its_suppression_and_history(session):
    sub, _ = service.add(session, "pd@example.com", "both", confirmed=True, ip="192.0.2.1")
    data = lookup.personal_data(session, sub)
    assert data["email"] == "pd@example.com" and data["consent_ip"] == "192.0.2.1"
    assert data["suppression"] is None and [h["action"] for h in data["history"]] == ["added"]


def test_mark_suppressed_takes_only_a_suppression(session):
    sub, _ = service.add(session, "m@example.com", "ko", confirmed=True)
    with pytest.raises(service.SubscriberError):
        service.mark_suppressed(session, sub.id, Status.ACTIVE)
    service.mark_suppressed(session, sub.id, Status.BOUNCED, detail="550 mailbox unavailable")
    assert (
        sub.status == Status.BOUNCED
        and lookup.history(session, sub.id)[-1].detail == "550 mailbox unavailable"
    )


# --- the one-click path: unsubscribe_active_at_once (PostgreSQL), else unsubscribe_by_link -----------


def _one_click(session, sub, settings, **kw):
    """What the one-click route does, on either database (committed, as the route's own work)."""
    session.commit()
    sessions = sessionmaker(bind=session.get_bind(), expire_on_commit=False)
    return one_click.unsubscribe_by_link_committed(
        sessions, tokens.make_token(tokens.UNSUBSCRIBE, sub.id, settings), settings, **kw
    )


def _changes(session, sub):
    session.expire_all()
    return [
        (c.action, c.source, c.ip, changes.english(c.detail))
        for c in lookup.history(session, sub.id)
    ]


def _postgres_only(session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the one-statement path is PostgreSQL's")


def test_a_link_unsubscribes_an_active_subscriber_once_with_its_history(session, settings):
    sub, _ = service.add(session, "oc@example.com", "en", confirmed=True)
    session.commit()
    for _ in range(3):
        done = _one_click(session, sub, settings, source="one-click", ip="203.0.113.9")
        assert done == (sub.id, "en")
        session.commit()
    session.expire_all()
    assert sub.status == Status.UNSUBSCRIBED and sub.unsubscribed_at is not None
    assert sub.updated_at == sub.unsubscribed_at
    assert _changes(session, sub)[1:] == [
        ("unsubscribed", "one-click", "203.0.113.9", "active -> unsubscribed")
    ]


def test_on_postgresql_an_active_subscriber_costs_one_statement_committed_at_once(
    session, settings
):
    from sqlalchemy import event

    _postgres_only(session)
    sub, _ = service.add(session, "lean@example.com", "ko", confirmed=True)
    session.commit()
    statements = []

    def seen(conn, cursor, statement, *_):
        statements.append(statement.split()[0].upper())

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        token = tokens.make_token(tokens.UNSUBSCRIBE, sub.id, settings)
        assert one_click.unsubscribe_active_at_once(
            engine, token, settings, source="one-click"
        ) == (
            sub.id,
            "ko",
        )
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements == ["WITH"]  # the UPDATE and the history INSERT together, no SELECT first
    session.expire_all()  # another transaction sees both rows: they were committed
    assert sub.status == Status.UNSUBSCRIBED
    assert _changes(session, sub)[1:] == [
        ("unsubscribed", "one-click", None, "active -> unsubscribed")
    ]
    assert (
        one_click.unsubscribe_active_at_once(engine, token, settings, source="one-click") is None
    )  # not active now


def test_on_sqlite_there_is_no_one_statement_path(session, settings):
    if session.get_bind().dialect.name == "postgresql":
        pytest.skip("SQLite's behaviour")
    sub, _ = service.add(session, "lite@example.com", "ko", confirmed=True)
    session.commit()
    token = tokens.make_token(tokens.UNSUBSCRIBE, sub.id, settings)
    assert (
        one_click.unsubscribe_active_at_once(
            session.get_bind(), token, settings, source="one-click"
        )
        is None
    )
    session.expire_all()
    assert sub.status == Status.ACTIVE


@pytest.mark.parametrize(
    "before", [Status.PENDING, Status.UNSUBSCRIBED, Status.BOUNCED, Status.COMPLAINED]
)
def test_a_link_to_anyone_not_active_takes_the_general_path(session, before, settings):
    sub, _ = service.add(session, f"{before}@example.com", "both")
    if before != Status.PENDING:
        sub.status = before
    session.commit()
    assert _one_click(session, sub, settings, source="one-click") == (sub.id, "both")
    session.commit()
    session.expire_all()
    expected = Status.UNSUBSCRIBED if before in (Status.PENDING, Status.UNSUBSCRIBED) else before
    assert sub.status == expected  # a suppression stays one
    unsubscribed = [c for c in _changes(session, sub) if c[0] == "unsubscribed"]
    assert unsubscribed == (
        [("unsubscribed", "one-click", None, "pending -> unsubscribed")]
        if before == Status.PENDING
        else []
    )


def test_a_bad_link_changes_nothing(session, runtime, settings):
    sub, _ = service.add(session, "bad@example.com", "ko", confirmed=True)
    session.commit()
    for token in (
        "garbage",
        tokens.make_token(tokens.PREFERENCES, sub.id, settings),
        tokens.make_token(tokens.UNSUBSCRIBE, 999_999, settings),
    ):
        with pytest.raises(tokens.InvalidToken):
            one_click.unsubscribe_by_link_committed(
                runtime.sessions, token, settings, source="one-click"
            )
    session.expire_all()
    assert sub.status == Status.ACTIVE and _changes(session, sub)[1:] == []


@pytest.mark.parametrize(
    "offset, fits",
    [(-3.0, True), (0.0, True), (0.999, True), (1.0, False), (5.0, False), (120.0, True)],
)  # a row dated after now was dated by hand
def test_the_one_statement_path_and_from_token_agree_on_which_row_a_link_names(
    session, offset, fits, links_made_earlier, settings
):
    """Two spellings of one rule (Python for a loaded row, SQL for the one-click statement): a row made
    later than the link's second was made for someone else."""
    _postgres_only(session)
    sub, _ = service.add(session, "when@example.com", "ko", confirmed=True)
    token = tokens.make_token(tokens.UNSUBSCRIBE, sub.id, settings)
    issued_at = tokens.read(tokens.UNSUBSCRIBE, token, settings).issued_at
    sub.created_at = issued_at + timedelta(seconds=offset)
    session.commit()
    try:
        service.from_token(session, tokens.UNSUBSCRIBE, token, settings)
        python_fits = True
    except tokens.InvalidToken:
        python_fits = False
    sql_fits = (
        one_click.unsubscribe_active_at_once(
            session.get_bind(), token, settings, source="one-click"
        )
        is not None
    )
    session.expire_all()
    assert python_fits == sql_fits == fits
    assert sub.status == (Status.UNSUBSCRIBED if fits else Status.ACTIVE)


def test_two_unsubscribes_racing_record_one_change(session, runtime):
    """The preference centre loaded the reader as active; a one-click unsubscribe commits first."""

    sub, _ = service.add(session, "race@example.com", "ko", confirmed=True)
    session.commit()
    assert session.get(Subscriber, sub.id).status == Status.ACTIVE  # loaded, as the page did
    with runtime.sessions() as other:
        service.unsubscribe(other, sub.id, source="one-click")
        other.commit()
    assert service.unsubscribe(session, sub.id, source="web").status == Status.UNSUBSCRIBED
    session.commit()
    assert (
        session.scalar(
            select(func.count()).where(
                Change.subscriber_id == sub.id, Change.action == "unsubscribed"
            )
        )
        == 1
    )


def test_search_finds_by_part_of_the_address_newest_first(session):
    for name in ("kim.a", "lee.b", "kim.c"):
        service.add(session, f"{name}@example.com", "ko", confirmed=True)
    session.commit()
    found, total = search_page(session, " KIM ")
    assert [s.email for s in found] == ["kim.c@example.com", "kim.a@example.com"] and total == 2
    assert search_page(session, "%") == ([], 0)  # a wildcard is only a character
    assert len(search_page(session, "", per_page=2)[0]) == 2


def test_an_address_never_confirmed_is_not_resubscribed(session):
    sub, _ = service.add(session, "p@example.com", "en")
    with pytest.raises(service.NotAllowed):
        service.resubscribe(session, sub, source="preferences")
    assert sub.status == Status.PENDING
    service.unsubscribe(session, sub.id)
    with pytest.raises(service.NotAllowed):
        service.resubscribe(session, sub, source="preferences")
    assert sub.status == Status.UNSUBSCRIBED and sub.confirmed_at is None
