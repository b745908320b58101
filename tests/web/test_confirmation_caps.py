"""Confirmation mails are capped per network (an IPv4 /24, an IPv6 /48) and in all, an hour: past a
cap a sign-up is answered exactly as ever, stays pending, and its mail is written `skipped`, never sent.
(One /48 holds 65,536 /64s, each its own client for the per-client limit: 300 strangers were mailed.)"""

import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailer.mail.models import MailStatus, OutboxMail
from subscribers.models import Status, Subscriber
from tests.web.conftest import csrf_of


def _browser(runtime, ip: str) -> TestClient:
    from mailer.web.app import create_app

    return TestClient(create_app(runtime), base_url="https://testserver", client=(ip, 50000))


def _sign_up(client: TestClient, email: str):
    token = csrf_of(client.get("/subscribe?lang=en").text)
    return client.post(
        "/subscribe?lang=en", data={"email": email, "lang": "en", "csrf_token": token}
    )


def _page(response) -> str:
    """The answer without the address it names, nor its resend form's token (one per browser)."""
    text = re.sub(r"[\w.+-]+@example\.com", "ADDRESS", response.text)
    return re.sub(r'name="csrf_token" value="[^"]*"', "TOKEN", text)


def _mails(session) -> dict[str, tuple[str, str | None]]:
    rows = session.execute(
        select(Subscriber.email, OutboxMail.status, OutboxMail.last_error).join(
            OutboxMail, OutboxMail.subscriber_id == Subscriber.id
        )
    )
    return {email: (status, error) for email, status, error in rows}


def test_one_ipv6_site_mails_only_so_many_strangers_an_hour(make_runtime, session, outbox, caplog):
    runtime = make_runtime(confirmations_per_network_per_hour=4)
    # a different /64 of one /48 for each sign-up: the per-client limit never sees the same client
    answers = [
        _sign_up(_browser(runtime, f"2001:db8:77:{i:x}::1"), f"stranger{i}@example.com")
        for i in range(10)
    ]
    with caplog.at_level(logging.WARNING, logger="mailer.web.signup"):
        answers.append(_sign_up(_browser(runtime, "2001:db8:77:ff::1"), "last@example.com"))
    assert {a.status_code for a in answers} == {200}
    assert len({_page(a) for a in answers}) == 1  # the one held back reads exactly as the others
    mails = _mails(session)
    sent = [e for e, (status, _) in mails.items() if status == MailStatus.SENT]
    held = {e: err for e, (status, err) in mails.items() if status == MailStatus.SKIPPED}
    assert len(sent) == 4 and len(outbox.messages()) == 4
    assert len(held) == 7 and set(held.values()) == {"per-network mail limit"}
    assert "held back by the network limit" in caplog.text
    statuses = set(session.scalars(select(Subscriber.status)))
    assert statuses == {Status.PENDING}  # each can still sign up later and confirm
    # another site is not held back by this one's
    assert _sign_up(_browser(runtime, "2001:db8:78::1"), "elsewhere@example.com").status_code == 200
    assert len(outbox.messages("elsewhere@example.com")) == 1


def test_ipv4_networks_are_24s():
    from mailer.web.ratelimit import network_key

    assert network_key("203.0.113.7") == network_key("203.0.113.250") == "203.0.113.0/24"
    assert network_key("::ffff:203.0.113.7") == "203.0.113.0/24"
    assert (
        network_key("2001:db8:77:1::1") == network_key("2001:db8:77:ffff::9") == "2001:db8:77::/48"
    )
    assert network_key(None) == "unknown"


def test_all_sign_ups_together_mail_only_so_many_an_hour(make_runtime, session, outbox):
    runtime = make_runtime(confirmations_per_hour=3)
    for i in range(5):
        assert _sign_up(_browser(runtime, f"198.51.{i}.9"), f"r{i}@example.com").status_code == 200
    assert len(outbox.messages()) == 3
    assert (
        sorted(err for status, err in _mails(session).values() if err) == ["hourly mail limit"] * 2
    )


@pytest.mark.parametrize(
    "name, value", [("confirmations_per_network_per_hour", 0), ("confirmations_per_hour", -1)]
)
def test_a_cap_is_at_least_one(monkeypatch, name, value):
    from pydantic import ValidationError

    from mailer.config import Settings

    monkeypatch.setenv(f"MAILER_{name.upper()}", str(value))
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_held_mails_are_counted_in_metrics(make_runtime, session):
    runtime = make_runtime(confirmations_per_hour=1)
    for i in range(3):
        _sign_up(_browser(runtime, f"192.0.2.{i}"), f"m{i}@example.com")
    scrape = _browser(runtime, "127.0.0.1").get("/metrics").text
    assert 'mailer_confirmation_mails_held_total{limit="hourly"} 2.0' in scrape
