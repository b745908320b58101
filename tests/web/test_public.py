"""Health endpoints and the unsubscribe link every email carries (RFC 8058 one-click)."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailer.web.app import create_app
from subscribers import service, tokens
from subscribers.models import Status


@pytest.fixture
def reader(session):
    sub, _ = service.add(session, "reader@example.com", "ko", confirmed=True)
    session.commit()
    return sub


def _status(session, sub):
    session.expire_all()
    return service.get_by_email(session, sub.email).status


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


def test_get_shows_a_page_and_changes_nothing(client, session, reader, settings):
    url = f"/unsubscribe/{tokens.make_token(tokens.UNSUBSCRIBE, reader.id, settings)}"
    page = client.get(url)
    assert page.status_code == 200
    assert '<html lang="ko">' in page.text and "구독을 취소하시겠습니까" in page.text
    assert _status(session, reader) == Status.ACTIVE  # mail scanners prefetch links


@pytest.mark.parametrize("as_multipart", [False, True], ids=["urlencoded", "multipart"])
def test_one_click_post_as_a_mailbox_provider_sends_it(
    client, session, reader, as_multipart, settings
):
    url = f"/unsubscribe/{tokens.make_token(tokens.UNSUBSCRIBE, reader.id, settings)}"
    kwargs = (
        {"files": {"List-Unsubscribe": (None, "One-Click")}}
        if as_multipart
        else {"data": {"List-Unsubscribe": "One-Click"}}
    )
    client.cookies.clear()
    for _ in range(2):  # repeated posts keep working
        response = client.post(url, **kwargs)
        assert response.status_code == 200  # never a redirect
        assert "구독이 취소되었습니다" in response.text
    assert _status(session, reader) == Status.UNSUBSCRIBED


def test_a_digests_links_share_one_token_that_opens_both_pages(client, session, reader, settings):
    """What a send puts in every digest (one token signed per recipient): the preference centre opens, and
    the one-click POST unsubscribes, on SQLite's path and PostgreSQL's one-statement path alike."""
    unsubscribe, preferences = tokens.shared_link_maker(
        (tokens.UNSUBSCRIBE, tokens.PREFERENCES), settings
    )(reader.id)
    assert unsubscribe.rsplit("/", 1)[1] == preferences.rsplit("/", 1)[1]
    assert client.get(preferences.removeprefix(settings.public_base)).status_code == 200
    assert _status(session, reader) == Status.ACTIVE
    response = client.post(
        unsubscribe.removeprefix(settings.public_base), data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200 and "구독이 취소되었습니다" in response.text
    assert _status(session, reader) == Status.UNSUBSCRIBED


def test_a_tampered_or_wrong_purpose_token_is_refused_in_both_languages(
    client, session, reader, settings
):
    good = tokens.make_token(tokens.UNSUBSCRIBE, reader.id, settings)
    tampered = good[:-5] + ("x" if good[-5] != "x" else "y") + good[-4:]
    for token in (tampered, tokens.make_token(tokens.PREFERENCES, reader.id, settings), "garbage"):
        response = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 400
        assert (
            "링크가 올바르지 않습니다" in response.text
            and "This link is not valid" in response.text
        )
    assert _status(session, reader) == Status.ACTIVE


def test_security_headers(client):
    headers = client.get("/unsubscribe/garbage").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "content-security-policy" in headers


# --- the link as mailbox providers and mail scanners use it, byte for byte -----------------------

ONE_CLICK_BODIES = {
    "urlencoded": ("application/x-www-form-urlencoded", b"List-Unsubscribe=One-Click"),
    "multipart": (
        "multipart/form-data; boundary=----provider7MA4YWxkTrZu0gW",
        (
            b"------provider7MA4YWxkTrZu0gW\r\n"
            b'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
            b"One-Click\r\n"
            b"------provider7MA4YWxkTrZu0gW--\r\n"
        ),
    ),
    "broken-multipart": ("multipart/form-data; boundary=declared", b"List-Unsubscribe=One-Click"),
    "text": ("text/plain", b"List-Unsubscribe=One-Click"),
}


@pytest.mark.parametrize("kind", ONE_CLICK_BODIES)
def test_one_click_raw_request_takes_effect_at_once(client, session, reader, kind, settings):
    content_type, body = ONE_CLICK_BODIES[kind]
    url = f"/unsubscribe/{tokens.make_token(tokens.UNSUBSCRIBE, reader.id, settings)}"
    client.cookies.clear()
    for _ in range(3):
        response = client.post(
            url,
            content=body,
            headers={"Content-Type": content_type, "User-Agent": "Mailbox-Provider-Unsubscriber"},
        )
        assert response.status_code == 200 and "location" not in response.headers
        assert "set-cookie" not in response.headers
        assert _status(session, reader) == Status.UNSUBSCRIBED  # committed before the answer
    from subscribers.models import Change

    changes = session.scalars(select(Change).where(Change.subscriber_id == reader.id)).all()
    assert [(c.action, c.source) for c in changes if c.action == "unsubscribed"] == [
        ("unsubscribed", "one-click")
    ]


def test_the_pages_button_posts_an_empty_form(client, session, reader, settings):
    url = f"/unsubscribe/{tokens.make_token(tokens.UNSUBSCRIBE, reader.id, settings)}"
    page = client.get(url)
    assert f'action="{url}"' in page.text and 'method="post"' in page.text
    assert client.post(url).status_code == 200
    assert _status(session, reader) == Status.UNSUBSCRIBED


def test_get_and_head_never_change_anything_however_often(client, session, reader, settings):
    url = f"/unsubscribe/{tokens.make_token(tokens.UNSUBSCRIBE, reader.id, settings)}"
    for _ in range(3):
        assert client.get(url).status_code == 200
    assert (
        client.head(url).status_code == 405
    )  # HEAD is not served on this route, so it runs nothing
    assert _status(session, reader) == Status.ACTIVE


def test_a_korean_reader_of_the_english_edition_gets_korean_with_an_english_line(
    client, session, settings
):
    sub, _ = service.add(session, "en-reader@example.com", "en", confirmed=True)
    session.commit()
    page = client.get(
        f"/unsubscribe/{tokens.make_token(tokens.UNSUBSCRIBE, sub.id, settings)}",
        headers={"Accept-Language": "ko"},
    )
    assert '<html lang="ko">' in page.text and "구독을 취소하시겠습니까?" in page.text
    assert 'lang="en"' in page.text and "Press the button to unsubscribe" in page.text


def test_links_sent_before_tokens_carried_a_time_still_work(client, session, reader, settings):
    from itsdangerous import URLSafeSerializer

    old = URLSafeSerializer(
        [settings.secret_key.get_secret_value()], salt="mailer.unsubscribe"
    ).dumps(reader.id)
    assert (
        client.post(f"/unsubscribe/{old}", data={"List-Unsubscribe": "One-Click"}).status_code
        == 200
    )
    assert _status(session, reader) == Status.UNSUBSCRIBED


@pytest.mark.slow  # waits 1.1 s: tokens carry whole seconds
def test_a_link_of_an_erased_subscriber_is_refused_even_if_the_id_comes_back(
    client, session, reader, settings
):
    import time

    from mailer.events import privacy
    from subscribers.models import Subscriber

    token = tokens.make_token(tokens.UNSUBSCRIBE, reader.id, settings)
    privacy.erase(session, reader.email)
    session.commit()
    assert client.post(f"/unsubscribe/{token}").status_code == 400
    time.sleep(1.1)  # tokens carry whole seconds
    # SQLite hands out the highest id again once its row is gone: a newcomer must not inherit old links.
    newcomer = Subscriber(id=reader.id, email="newcomer@example.com", lang="ko", status="active")
    session.add(newcomer)
    session.commit()
    assert client.post(f"/unsubscribe/{token}").status_code == 400
    assert (
        client.get(
            f"/preferences/{tokens.make_token(tokens.PREFERENCES, reader.id, settings)}"
        ).status_code
        == 200
    )
    assert _status(session, newcomer) == Status.ACTIVE


def test_pages_are_not_cached_framed_or_scripted(client, session, reader, settings):
    page = client.get(f"/unsubscribe/{tokens.make_token(tokens.UNSUBSCRIBE, reader.id, settings)}")
    assert page.headers["cache-control"] == "no-store"
    csp = page.headers["content-security-policy"]
    assert (
        "frame-ancestors 'none'" in csp and "form-action 'self'" in csp and "script-src" not in csp
    )
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script" not in page.text
    assert client.get("/subscribe").headers["strict-transport-security"]  # public URL is https


def test_an_unsubscribed_reader_sees_so_and_the_way_back(client, session, reader, settings):
    service.unsubscribe(session, reader.id)
    session.commit()
    token = tokens.make_token(tokens.LINKS, reader.id, settings)
    page = client.get(f"/unsubscribe/{token}")
    assert (
        page.status_code == 200
        and "구독이 취소되었습니다" in page.text
        and f'href="/preferences/{token}"' in page.text
    )
    assert 'method="post"' not in page.text


def test_an_unsubscribe_only_token_gets_no_preferences_link(client, session, reader, settings):
    """A token that opens only the unsubscribe page is not traded for one that opens the preference
    centre: neither the page before the button nor the answers after it link there."""
    token = tokens.make_token(tokens.UNSUBSCRIBE, reader.id, settings)
    pages = [
        client.get(f"/unsubscribe/{token}"),
        client.post(f"/unsubscribe/{token}"),
        client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}),
        client.get(f"/unsubscribe/{token}"),
    ]
    assert all(page.status_code == 200 for page in pages)
    assert all("/preferences/" not in page.text for page in pages)
    assert _status(session, reader) == Status.UNSUBSCRIBED


# --- how the app is served ------------------------------------------------------------------------


def test_security_headers_for_pages_and_for_the_rest():
    from mailer.web.app import security_headers

    page = dict(security_headers("text/html; charset=utf-8", https=True))
    assert (
        page["Cache-Control"] == "no-store"
        and "frame-ancestors 'none'" in page["Content-Security-Policy"]
    )
    assert page["Strict-Transport-Security"] == "max-age=31536000"
    other = dict(security_headers("application/json", https=False))
    assert other["X-Content-Type-Options"] == "nosniff"
    assert (
        not {"Cache-Control", "Content-Security-Policy", "Strict-Transport-Security"} & other.keys()
    )


def test_a_routes_own_header_wins_over_the_default():
    from starlette.responses import HTMLResponse

    from mailer.web.app import SecurityHeaders

    inner = HTMLResponse("<p>archive</p>", headers={"Cache-Control": "public, max-age=300"})
    response = TestClient(SecurityHeaders(inner, https=False)).get("/")
    assert response.headers["cache-control"] == "public, max-age=300"
    assert (
        response.headers["x-frame-options"] == "DENY"
        and "content-security-policy" in response.headers
    )


def test_requests_get_no_more_threads_than_the_database_pool_has_connections():
    import anyio
    import anyio.to_thread

    from mailer.web.app import _lifespan

    async def threads_while_serving():
        async with _lifespan(3)(None):
            return anyio.to_thread.current_default_thread_limiter().total_tokens

    assert anyio.run(threads_while_serving) == 3


@pytest.mark.parametrize(
    "env, reloads", [("development", True), ("production", False), ("test", False)]
)
def test_templates_are_read_once_except_while_developing(make_runtime, env, reloads):
    runtime = make_runtime(env=env)
    assert create_app(runtime).state.templates.env.auto_reload is reloads


def test_the_served_app_sets_up_logging_in_each_process(settings, monkeypatch):
    import mailer.logs
    from mailer.wiring import web_app

    configured = []
    monkeypatch.setattr(mailer.logs, "configure", lambda s, level: configured.append(s.env))
    assert web_app().title and configured == ["test"]


@pytest.mark.parametrize(
    ("path", "location"),
    [("/subscribe/", "/subscribe"), ("/subscribe/?lang=en", "/subscribe?lang=en")],
)
def test_a_trailing_slash_redirect_never_names_the_requests_host(client, path, location):
    response = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == location


@pytest.mark.parametrize("path", ["//evil.example/", "//evil.example", "///subscribe/"])
def test_a_slash_redirect_is_never_to_another_site(client, path):
    response = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    location = response.headers.get("location", "")
    assert not location.startswith("//") and "evil.example" not in location
