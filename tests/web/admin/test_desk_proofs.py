"""Proofs stay in the newsroom: a desk account's own address or MAILER_PROOF_DOMAINS (the From
domain by default), never a suppressed address, at most MAILER_PROOFS_PER_HOUR addresses an hour
from each account; every refusal a sentence in the page's language, and nothing sent."""

import html
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mailer.web.app import create_app

from .conftest import PASSWORD, csrf_of, log_in

INSIDE = "desk@news.example.com"  # the From address is newsletter@news.example.com


def _proof(client, to, page="en"):
    token = csrf_of(client.get("/admin/issues/1").text)
    return client.post(
        f"/admin/issues/1/test?lang={page}",
        data={"csrf_token": token, "lang": "ko", "to": to},
    )


def _sent(settings) -> int:
    return len(list((Path(settings.outbox_dir) / "test").rglob("*.eml")))


def _desk(runtime, name="mina"):
    client = TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)
    assert log_in(client, name).status_code == 303
    return client


@pytest.fixture
def jun(runtime, session, editor):
    """A plain editor, on a browser of his own."""
    from mailer.web.admin.accounts import create_user

    create_user(session, "jun", PASSWORD, role="editor")
    session.commit()
    return _desk(runtime, "jun")


def test_a_proof_to_an_outside_address_is_refused_in_the_pages_language(jun, settings, drafted):
    for page, words in (
        (
            "en",
            (
                "A test goes only to a desk account's own address or to an address at "
                "news.example.com, not to someone@elsewhere.org. Nothing was sent."
            ),
        ),
        ("ko", "someone@elsewhere.org"),
    ):
        refused = _proof(jun, "someone@elsewhere.org", page)
        assert refused.status_code == 422 and words in html.unescape(refused.text)
    assert "news.example.com 주소로만" in html.unescape(
        _proof(jun, "x@evil.example.net", "ko").text
    )
    # one outside address among inside ones: nobody gets it
    assert _proof(jun, f"{INSIDE} someone@elsewhere.org").status_code == 422
    assert _sent(settings) == 0
    assert _proof(jun, INSIDE).status_code == 303
    assert _sent(settings) == 1


def test_a_desk_accounts_own_address_takes_a_proof(runtime, session, settings, drafted):
    from mailer.web.admin.accounts import create_user

    create_user(session, "Sora@Freelance.example.org", PASSWORD, role="editor")
    session.commit()
    sora = _desk(runtime, "Sora@Freelance.example.org")
    assert _proof(sora, "sora@freelance.example.org").status_code == 303
    assert _proof(sora, "other@freelance.example.org").status_code == 422
    assert _sent(settings) == 1


def test_mailer_proof_domains_names_the_domains(make_runtime, session, drafted, editor):
    runtime = make_runtime(proof_domains="partner.example, Copy.Example")
    admin = _desk(runtime)
    assert _proof(admin, "a@partner.example b@copy.example").status_code == 303
    refused = _proof(admin, INSIDE)  # the From domain counts only when none is named
    assert refused.status_code == 422 and "copy.example, partner.example" in refused.text
    assert _sent(runtime.settings) == 2


def test_no_proof_goes_to_an_erased_bounced_or_complained_address(jun, session, settings, drafted):
    from subscribers import service

    for name, status in (("bounced", "bounced"), ("complained", "complained")):
        sub, _ = service.add(session, f"{name}@news.example.com", "ko", confirmed=True)
        service.mark_suppressed(session, sub.id, status)
    service.add(session, "erased@news.example.com", "ko", confirmed=True)
    service.erase(session, "erased@news.example.com")
    service.erase(session, "never-subscribed@news.example.com")
    session.commit()
    for address in ("bounced", "complained", "erased", "never-subscribed"):
        refused = _proof(jun, f"{INSIDE} {address}@news.example.com")
        assert refused.status_code == 422
        assert f"{address}@news.example.com is on the suppression list" in refused.text
    ko = _proof(jun, "Bounced@News.Example.com", "ko")
    assert "bounced@news.example.com" in ko.text and "수신 거부 목록" in html.unescape(ko.text)
    assert _sent(settings) == 0


def test_each_account_sends_proofs_to_at_most_so_many_addresses_an_hour(
    make_runtime, session, drafted, editor
):
    from mailer.web.admin.accounts import create_user

    create_user(session, "jun", PASSWORD, role="editor")
    session.commit()
    runtime = make_runtime(proofs_per_hour=3)
    app = create_app(runtime)  # one app: its processes share the count
    jun = TestClient(app, base_url="https://testserver", follow_redirects=False)
    mina = TestClient(app, base_url="https://testserver", follow_redirects=False)
    log_in(jun, "jun")
    log_in(mina)
    two = "a@news.example.com b@news.example.com"
    assert _proof(jun, two).status_code == 303
    over = _proof(jun, two)  # each address counts one: 4 > 3
    assert over.status_code == 422 and "You have sent tests to 3 addresses this hour" in over.text
    assert "이번 한 시간" in html.unescape(_proof(jun, two, "ko").text)
    assert _proof(jun, "c@news.example.com").status_code == 303  # the refused were not counted
    assert _proof(jun, "d@news.example.com").status_code == 422
    assert _proof(mina, two).status_code == 303  # another account, its own count
    assert _sent(runtime.settings) == 5
