"""A date to come never blocks an unsubscribe: imported times are clamped to now, and a row
already dated in the future (imported before that) still takes its links."""

from __future__ import annotations

import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mailer.db import utcnow
from subscribers import one_click, service, tokens
from subscribers.csv_import import import_rows, read_rows
from subscribers.models import Status, Subscriber


def _by_email(session, email):
    session.expire_all()
    return session.scalar(select(Subscriber).where(Subscriber.email == email))


def test_imported_times_are_never_later_than_now(session, runtime, settings):
    seoul_now = (
        utcnow().astimezone(ZoneInfo("Asia/Seoul")).replace(tzinfo=None)
    )  # naive: read as UTC, 9 h ahead
    text = (
        "email,lang,status,created_at\n"
        "future@example.com,en,active,2099-01-01T00:00:00+00:00\n"
        f"seoul@example.com,ko,active,{seoul_now.isoformat()}\n"
        "past@example.com,en,active,2020-03-01T12:00:00+00:00\n"
    )
    now = utcnow()
    import_rows(session, read_rows(io.StringIO(text)), now=now)
    for email in ("future@example.com", "seoul@example.com"):
        sub = _by_email(session, email)
        assert sub.created_at <= now and sub.confirmed_at <= now and sub.consent_at <= now
    assert _by_email(session, "past@example.com").created_at.year == 2020  # a past date is kept
    token = tokens.make_token(
        tokens.UNSUBSCRIBE, _by_email(session, "future@example.com").id, settings
    )
    one_click.unsubscribe_by_link_committed(runtime.sessions, token, settings, source="one-click")
    assert _by_email(session, "future@example.com").status == Status.UNSUBSCRIBED


@pytest.mark.parametrize("ahead", [timedelta(hours=9), timedelta(days=3650)])
def test_a_row_dated_in_the_future_still_takes_its_links(session, ahead, runtime, settings):
    sub, _ = service.add(session, "ahead@example.com", "en", confirmed=True)
    sub.created_at = utcnow() + ahead  # as an import before the clamp left it
    session.commit()
    prefs = tokens.make_token(tokens.PREFERENCES, sub.id, settings)
    assert service.from_token(session, tokens.PREFERENCES, prefs, settings)[0].id == sub.id
    # the one-click path: one statement on PostgreSQL, a transaction on SQLite
    one_click.unsubscribe_by_link_committed(
        runtime.sessions,
        tokens.make_token(tokens.UNSUBSCRIBE, sub.id, settings),
        settings,
        source="one-click",
    )
    assert _by_email(session, "ahead@example.com").status == Status.UNSUBSCRIBED
