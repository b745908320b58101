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
