"""Growth by week and language: imports are counted apart from sign-ups."""

from __future__ import annotations

import io

from mailer.db import utcnow
from subscribers import growth, service
from subscribers.csv_import import ImportOptions, import_rows, read_rows


def test_imports_are_counted_apart_from_sign_ups(session):
    service.add(session, "signed@example.com", "ko", confirmed=True)
    service.add(session, "asked@example.com", "ko")
    session.commit()
    text = "email,lang\n" + "".join(f"i{n}@example.com,ko\n" for n in range(3))
    import_rows(session, read_rows(io.StringIO(text)), now=utcnow())
    mailed = "email,lang\nm@example.com,ko\n"
    import_rows(
        session,
        read_rows(io.StringIO(mailed)),
        now=utcnow(),
        options=ImportOptions("confirm_by_mail"),
    )
    [week] = [row for row in growth.weekly(session, utcnow(), weeks=1) if row["lang"] == "ko"]
    assert (week["signups"], week["confirmations"], week["imports"]) == (2, 1, 4)


def test_a_reader_back_after_a_hard_bounce_is_a_sign_up_and_a_confirmation(session, settings):
    from subscribers import tokens

    sub, _ = service.add(session, "back@example.com", "en", confirmed=True)
    service.mark_suppressed(session, sub.id, "bounced")
    service.request_subscription(session, "back@example.com", "en")
    claim = tokens.read(
        tokens.CONFIRM, tokens.make_token(tokens.CONFIRM, sub.id, settings), settings
    )
    service.confirm(session, sub, claim)
    session.commit()
    [week] = [row for row in growth.weekly(session, utcnow(), weeks=1) if row["lang"] == "en"]
    # the first sign-up (added active) and the one after the bounce: each a sign-up and a confirmation
    assert (week["signups"], week["confirmations"], week["bounces"]) == (2, 2, 1)
