"""A sign-up does the same database work for a new, a known and a suppressed address, and is answered
no sooner than MAILER_SIGNUP_ANSWER_SECONDS after it arrived, so that the time it takes tells nobody
whether an address is on file, or bounced or complained (it took twice as long for a new one: an insert
and a savepoint; then a suppressed one wrote nothing, so its commit skipped the disk)."""

import re

import pytest
from sqlalchemy import event

from tests.web.conftest import csrf_of, sign_up


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


class Queued:
    """A dispatcher that only queues, as Celery's does: the request path is all a test then times (in
    process the mail is sent after the answer has gone, where no client's clock sees it)."""

    beat_sweeps = True

    def __init__(self):
        self.mails: list[int] = []

    def send_mails(self, mail_ids, countdown=0.0):
        self.mails.extend(mail_ids)
        return "queued"


def _known(session, email: str, status: str) -> None:
    from subscribers import changes, service

    known, _ = service.add(session, email, "ko", confirmed=status != "pending")
    if status == "unsubscribed":
        service.unsubscribe(session, known.id)
    elif status == "soft-bounced":  # refused: the desk re-enables it
        service.mark_suppressed(session, known.id, "bounced", detail=changes.soft_bounces(3))
    elif status.split("-")[0] in ("bounced", "complained"):  # a hard bounce is asked to confirm
        service.mark_suppressed(session, known.id, status.split("-")[0])
    if status.endswith("erased"):
        service.erase(session, email)  # only the suppression list's hash is left


STATUSES = [
    "pending",
    "active",
    "unsubscribed",
    "bounced",
    "soft-bounced",
    "bounced-then-erased",
    "complained",
    "complained-then-erased",
    "erased",
]


@pytest.mark.parametrize("known_status", STATUSES)
def test_a_new_and_a_known_address_run_the_same_statements(
    runtime, session, statements, known_status
):
    import dataclasses

    from fastapi.testclient import TestClient

    from mailer.web.app import create_app

    # the request's own statements: the mail's task runs elsewhere (as with a broker)
    client = TestClient(
        create_app(dataclasses.replace(runtime, tasks=Queued())), base_url="https://testserver"
    )
    _known(session, "known@example.com", known_status)
    session.commit()
    statements.clear()
    assert sign_up(client, "new@example.com", "en").status_code == 200
    new = list(statements)
    statements.clear()
    assert sign_up(client, "known@example.com", "en").status_code == 200
    assert statements == new and any(s.startswith("INSERT INTO subscribers") for s in new)
    assert any(s.startswith("INSERT INTO outbox_mails") for s in new)


@pytest.mark.slow
def test_a_suppressed_address_takes_as_long_as_a_new_one(make_runtime, session, monkeypatch):
    """Medians of interleaved sign-ups, new and suppressed (bounced, complained, complained and then
    erased), on the request path alone: a suppressed address used to answer in about 85% of a new
    one's time on SQLite, less on PostgreSQL (a commit that wrote nothing waited for no disk)."""
    import dataclasses
    import statistics
    import time

    from fastapi.testclient import TestClient

    from mailer.web import ratelimit
    from mailer.web.app import create_app

    # the limits are not what is timed here (and would stop the run)
    roomy = ratelimit.Limit(burst=10**6, per_hour=10**6)
    monkeypatch.setattr(ratelimit, "SIGNUPS_PER_IP", roomy)
    monkeypatch.setattr(ratelimit, "MAILS_PER_ADDRESS", roomy)
    floor = 0.05
    runtime = make_runtime(
        signup_answer_seconds=floor,
        confirmations_per_network_per_hour=10**6,
        confirmations_per_hour=10**6,
    )
    client = TestClient(
        create_app(dataclasses.replace(runtime, tasks=Queued())), base_url="https://testserver"
    )
    suppressed_kinds = ("bounced", "complained", "complained-then-erased")
    for kind in suppressed_kinds:
        _known(session, f"{kind}@example.com", kind)
    session.commit()
    token = csrf_of(client.get("/subscribe?lang=en").text)

    def timed(email: str) -> float:
        start = time.perf_counter()
        response = client.post(
            "/subscribe?lang=en", data={"email": email, "lang": "en", "csrf_token": token}
        )
        took = time.perf_counter() - start
        assert response.status_code == 200
        return took

    for i in range(10):  # warm up
        timed(f"warm{i}@example.com")
        timed("bounced@example.com")
    new, suppressed = [], []
    for i in range(200):
        # alternate which goes first, so that neither gains from the other's warm caches
        pair = [
            (new, f"new{i}@example.com"),
            (suppressed, suppressed_kinds[i % 3] + "@example.com"),
        ]
        for times, email in pair if i % 2 else reversed(pair):
            times.append(timed(email))
    ratio = statistics.median(suppressed) / statistics.median(new)
    # The equal statements are proved above; here only a gap the padding failed to hide is looked
    # for (the old code's ratio was about 0.85). A sign test over pairs is not asked for: with every
    # answer padded to the floor it weighs differences of microseconds, and a busy machine flakes it.
    assert 0.93 < ratio < 1.07, f"suppressed/new median ratio {ratio:.3f}"
    assert min(new + suppressed) >= floor
