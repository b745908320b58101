"""The sign-up form other sites embed (POST /signup): CORS for the configured origins only, the ALTCHA
challenge (solved, once, unaltered, alive), the honeypot, the same answers as the sign-up page for every
address, and the same per-client limit."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time

import altcha
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from mailer.web import challenge, ratelimit
from mailer.web.app import create_app
from subscribers import service
from tests.web.conftest import sign_up

SITE = "https://www.news.example.com"
QUICK = challenge.Difficulty(cost=1, low=0, high=40)  # the real one takes Python seconds


def _quick(client: TestClient) -> TestClient:
    client.app.state.challenge_difficulty = QUICK
    return client


@pytest.fixture
def embed(client):
    return _quick(client)


@pytest.fixture
def cors_client(make_runtime, session):
    runtime = make_runtime(signup_origins=f"{SITE}, http://127.0.0.1:8001")
    return _quick(
        TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)
    )


def solve(issued: dict) -> str:
    """What the widget puts in the form's `altcha` field for a challenge it solved."""
    found = altcha.solve_challenge(altcha.Challenge.from_dict(issued))
    assert found is not None
    return altcha.Payload(altcha.Challenge.from_dict(issued), found).to_base64()


def solved(client: TestClient) -> str:
    answer = client.get("/signup/challenge")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    return solve(answer.json())


def _post_json(client, email, lang="ko", page_lang="ko", **fields):
    return client.post(f"/signup?lang={page_lang}", json={"email": email, "lang": lang, **fields})


def _people(session) -> set[str]:
    from sqlalchemy import select

    from subscribers.models import Subscriber

    session.expire_all()
    return set(session.scalars(select(Subscriber.email)))


# --- CORS --------------------------------------------------------------------------------------


def test_an_allowed_origin_may_preflight_and_read_the_answer_others_may_not(cors_client):
    for path in ("/signup", "/signup/challenge"):
        asked = cors_client.options(
            path,
            headers={
                "Origin": SITE,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert asked.status_code == 200
        assert asked.headers["access-control-allow-origin"] == SITE
        assert "POST" in asked.headers["access-control-allow-methods"]
        assert "content-type" in asked.headers["access-control-allow-headers"].lower()
    for stranger in ("https://evil.example", SITE + ".evil.example", "http://www.news.example.com"):
        refused = cors_client.options(
            "/signup",
            headers={"Origin": stranger, "Access-Control-Request-Method": "POST"},
        )
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers
        answer = cors_client.get("/signup/challenge", headers={"Origin": stranger})
        assert "access-control-allow-origin" not in answer.headers
    answer = cors_client.get("/signup/challenge", headers={"Origin": SITE})
    assert answer.headers["access-control-allow-origin"] == SITE
    assert "Origin" in answer.headers["vary"]
    refused = cors_client.post("/signup", json={}, headers={"Origin": SITE})
    assert refused.status_code == 400 and refused.headers["access-control-allow-origin"] == SITE
    # only these routes: the sign-up page and the rest of the site stay closed to other sites
    page = cors_client.get("/subscribe", headers={"Origin": SITE})
    assert "access-control-allow-origin" not in page.headers
    preflight = cors_client.options(
        "/subscribe", headers={"Origin": SITE, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_without_origins_configured_no_site_gets_cors(embed):
    answer = embed.get("/signup/challenge", headers={"Origin": SITE})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
    asked = embed.options(
        "/signup", headers={"Origin": SITE, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in asked.headers


def test_signup_origins_must_be_origins(settings):
    from pydantic import ValidationError

    for wrong in ("*", "https://news.example.com/signup", "news.example.com", "ftp://x.example"):
        with pytest.raises(ValidationError):
            settings.__class__(_env_file=None, signup_origins=wrong)
    ok = settings.__class__(_env_file=None, signup_origins=" HTTPS://News.Example.com/ ,")
    assert ok.signup_origin_list == ["https://news.example.com"]


# --- the challenge -----------------------------------------------------------------------------


def test_a_solved_challenge_signs_up_once_and_its_replay_changes_nothing(embed, session, outbox):
    payload = solved(embed)
    first = _post_json(embed, "reader@example.com", "en", page_lang="en", altcha=payload)
    assert first.status_code == 200 and first.json()["ok"] is True
    assert "reader@example.com" in first.json()["message"]
    [mail] = outbox.messages()
    assert mail["To"] == "reader@example.com"
    assert mail["Subject"] == "Confirm your subscription to The Seoul Ledger Weekly"
    replay = _post_json(embed, "another@example.com", altcha=payload)
    assert replay.status_code == 400
    assert replay.json() == {
        "ok": False,
        "error": "challenge",
        "message": "로봇이 아님을 확인하는 과정이 끝나지 않았거나 만료되었습니다. 확인란을 다시 "
        "누르고 양식을 한 번 더 보내 주세요.",
    }
    same_again = _post_json(embed, "reader@example.com", "en", altcha=payload)
    assert same_again.status_code == 400
    assert _people(session) == {"reader@example.com"} and len(outbox.messages()) == 1


def _refused_and_nothing_changed(embed, session, outbox, payload) -> None:
    answer = _post_json(embed, "victim@example.com", altcha=payload)
    assert answer.status_code == 400 and answer.json()["error"] == "challenge", payload
    assert _people(session) == set() and outbox.messages() == []


def _altered(payload: str, change) -> str:
    data = json.loads(base64.b64decode(payload))
    change(data)
    return base64.b64encode(json.dumps(data).encode()).decode()


def test_a_missing_forged_or_unsolved_challenge_is_refused(embed, session, outbox, settings):
    _refused_and_nothing_changed(embed, session, outbox, None)
    _refused_and_nothing_changed(embed, session, outbox, "")
    _refused_and_nothing_changed(embed, session, outbox, "not base64 at all!")
    _refused_and_nothing_changed(embed, session, outbox, "A" * 10_000)
    payload = solved(embed)

    def easier(d):
        d["challenge"]["parameters"]["expiresAt"] += 3600

    def unsigned(d):
        d["challenge"]["signature"] = ""

    def wrong_key(d):
        d["solution"]["derivedKey"] = "00" * 32

    for change in (easier, unsigned, wrong_key):
        _refused_and_nothing_changed(embed, session, outbox, _altered(payload, change))
    # a challenge signed with another secret, solved honestly
    stranger = settings.model_copy(update={"secret_key": SecretStr("someone else's secret key")})
    theirs = solve(challenge.issue(stranger, time.time(), QUICK))
    _refused_and_nothing_changed(embed, session, outbox, theirs)
    # a solution the widget would send without a server, in its test mode
    test_mode = base64.b64encode(b'{"challenge":null,"solution":null,"test":true}').decode()
    _refused_and_nothing_changed(embed, session, outbox, test_mode)
    # and the honest one still works once
    assert _post_json(embed, "reader@example.com", altcha=payload).status_code == 200


def test_an_expired_challenge_is_refused(embed, session, outbox, settings):
    old = challenge.issue(settings, time.time() - challenge.MAX_AGE_SECONDS - 5, QUICK)
    _refused_and_nothing_changed(embed, session, outbox, solve(old))


def test_a_challenge_from_before_a_key_rotation_still_counts(embed, session, outbox, settings):
    before = settings.model_copy(
        update={"secret_key": SecretStr("the key before the rotation, long")}
    )
    payload = solve(challenge.issue(before, time.time(), QUICK))
    rotated = settings.model_copy(
        update={"old_secret_keys": [before.secret_key], "secret_key": settings.secret_key}
    )
    assert challenge.check(rotated, payload).verdict is challenge.Verdict.SOLVED
    assert challenge.check(settings, payload).verdict is challenge.Verdict.FORGED


def test_a_mistyped_address_keeps_the_solution_for_the_next_try(embed, session, outbox):
    payload = solved(embed)
    wrong = _post_json(embed, "not-an-address", altcha=payload)
    assert wrong.status_code == 400 and wrong.json()["error"] == "email"
    no_lang = _post_json(embed, "reader@example.com", "fr", altcha=payload)
    assert no_lang.status_code == 400 and no_lang.json()["error"] == "lang"
    assert _people(session) == set()
    assert _post_json(embed, "reader@example.com", altcha=payload).status_code == 200


# --- the honeypot ------------------------------------------------------------------------------


def test_a_filled_honeypot_gets_the_usual_answer_and_nothing_is_done(embed, session, outbox):
    real = _post_json(embed, "real@example.com", altcha=solved(embed))
    bot = _post_json(embed, "bot@example.com", altcha=solved(embed), website="http://spam.example")
    assert bot.status_code == real.status_code == 200
    assert bot.json()["message"] == real.json()["message"].replace("real@", "bot@")
    assert _people(session) == {"real@example.com"}
    assert [m["To"] for m in outbox.messages()] == ["real@example.com"]


# --- the same answers as the page --------------------------------------------------------------


def _known(session, email, status):
    known, _ = service.add(session, email, "ko", confirmed=status != "pending")
    if status == "unsubscribed":
        service.unsubscribe(session, known.id)
    elif status in ("bounced", "complained"):
        service.mark_suppressed(session, known.id, status)
    session.commit()


@pytest.mark.parametrize("status", ["pending", "active", "unsubscribed", "bounced", "complained"])
def test_json_and_form_answers_are_the_same_for_new_known_and_suppressed(embed, session, status):
    _known(session, "known@example.com", status)

    def answers(email: str) -> tuple:
        as_json = _post_json(embed, email, altcha=solved(embed))
        form = embed.post(
            "/signup?lang=ko",
            data={"email": email, "lang": "ko", "altcha": solved(embed), "website": ""},
        )
        page = form.text.replace(email, "ADDRESS")
        page = re.sub(r'name="csrf_token" value="[^"]*"', "", page)
        return (
            as_json.status_code,
            as_json.json()["message"].replace(email, "ADDRESS"),
            (
                form.status_code,
                page,
            ),
        )

    known, new = answers("known@example.com"), answers("new@example.com")
    assert known[0] == new[0] == 200 and known[2][0] == new[2][0] == 200
    assert known[1] == new[1] and "ADDRESS" in known[1]
    assert known[2][1] == new[2][1]


def test_a_form_post_gets_our_pages_in_the_asked_language(embed, session, outbox):
    sent = embed.post(
        "/signup?lang=ko",
        data={"email": "reader@example.com", "lang": "en", "altcha": solved(embed), "website": ""},
    )
    assert sent.status_code == 200 and "메일함을 확인해 주세요" in sent.text
    assert 'name="csrf_token"' in sent.text  # the resend button works from our page
    refused = embed.post(
        "/signup?lang=en", data={"email": "other@example.com", "lang": "en", "website": ""}
    )
    assert refused.status_code == 400 and '<html lang="en">' in refused.text
    assert "The check that you are not a robot was not finished" in refused.text
    assert 'action="/subscribe?lang=en"' in refused.text  # our own form, to finish here
    assert 'value="other@example.com"' in refused.text
    assert _people(session) == {"reader@example.com"}
    broken = embed.post(
        "/signup?lang=en", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and broken.json()["error"] == "body"


def test_the_page_and_the_embedded_form_draw_on_one_limit(embed, session, monkeypatch):
    monkeypatch.setattr(ratelimit, "SIGNUPS_PER_IP", ratelimit.Limit(burst=3, per_hour=1))
    for i in range(2):
        assert sign_up(embed, f"page{i}@example.com", "ko").status_code == 200
    assert _post_json(embed, "embed@example.com", altcha=solved(embed)).status_code == 200
    limited = _post_json(embed, "more@example.com", page_lang="en", altcha=solved(embed))
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
    assert int(limited.headers["retry-after"]) > 0
    assert "Too many sign-ups came from this network" in limited.json()["message"]
    form = embed.post("/signup?lang=ko", data={"email": "x@example.com", "lang": "ko"})
    assert form.status_code == 429 and "잠시 후 다시 시도해 주세요" in form.text
    assert sign_up(embed, "page9@example.com", "ko").status_code == 429
    assert "more@example.com" not in _people(session)


def test_the_widget_is_served_from_here_pinned(embed):
    script = embed.get("/static/altcha/altcha-3.2.2.min.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "altcha-widget" in script.text
    assert script.headers["cross-origin-resource-policy"] == "cross-origin"
    assert embed.get("/static/altcha/ko.js").status_code == 404
    assert embed.get("/static/altcha/..%2fREADME.md").status_code == 404


def test_a_solution_is_spent_once_across_processes_through_redis(redis_url, settings):
    """With a broker, every web process marks challenges in the same Redis: two processes (two stores
    on one server) cannot both accept one solution; the mark lasts until the challenge would expire."""
    import redis

    from mailer import kv

    payload = solve(challenge.issue(settings, time.time(), QUICK))
    checked = challenge.check(settings, payload)
    assert checked.verdict is challenge.Verdict.SOLVED
    one, other = (kv.RedisStore(redis.Redis.from_url(redis_url)) for _ in range(2))
    assert challenge.spend(one, checked, time.time()) is True
    assert challenge.spend(other, checked, time.time()) is False
    key = f"{challenge.USED_PREFIX}:{hashlib.sha256(checked.signature.encode()).hexdigest()}"
    assert challenge.MAX_AGE_SECONDS < one.redis.ttl(key) <= challenge.MAX_AGE_SECONDS + 60
