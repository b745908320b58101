"""A sign-up does the same database work for a new and a known address, so that the time it takes tells
nobody whether an address is on file (it took twice as long for a new one: an insert and a savepoint)."""

import re

import pytest
from sqlalchemy import event

from tests.web.conftest import sign_up


def _shape(statement: str) -> str:
    return re.sub(r"\s+", " ", statement).strip()


@pytest.fixture
def statements(runtime):
    seen: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many):
        seen.append(_shape(statement))

    engine = runtime.sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("known_status", ["pending", "active", "unsubscribed"])
def test_a_new_and_a_known_address_run_the_same_statements(
    client, session, statements, known_status
):
    from subscribers import service

    known, _ = service.add(session, "known@example.com", "ko", confirmed=known_status != "pending")
    if known_status == "unsubscribed":
        service.unsubscribe(session, known.id)
    session.commit()
    statements.clear()
    assert sign_up(client, "new@example.com", "en").status_code == 200
    new = list(statements)
    statements.clear()
    assert sign_up(client, "known@example.com", "en").status_code == 200
    assert statements == new and any(s.startswith("INSERT INTO subscribers") for s in new)
