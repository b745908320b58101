"""Editor sessions live on the server: logout, a new password and logout-all end them at once; a cookie
made with any key is no session; wrong passwords are throttled per client and per account."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from click.testing import CliRunner
from sqlalchemy import func, select

from mailer.issues.models import EditorSession
from mailer.web.admin.login import PRE_COOKIE
from tests.web.admin.conftest import PASSWORD, csrf_of, log_in

COOKIE = "mailer_admin"


def _replay(client, cookie: str):
    """A request carrying a copied cookie, as a thief would replay it after the owner logged out."""
    client.cookies.clear()
    client.cookies.set(COOKIE, cookie, domain="testserver", path="/admin")
    return client.get("/admin")


def test_a_cookie_copied_before_logout_is_refused_after_it(admin):
    stolen = admin.cookies.get(COOKIE)
    page = admin.get("/admin")
    assert page.status_code == 200
    admin.post("/admin/logout", data={"csrf_token": csrf_of(page.text)})
    assert _replay(admin, stolen).status_code == 303  # to the login page


def test_the_database_holds_only_a_hash_of_the_session(admin, session):
    cookie = admin.cookies.get(COOKIE)
    hashes = session.scalars(select(EditorSession.token_hash)).all()
    assert len(hashes) == 1 and cookie not in hashes[0] and len(hashes[0]) == 64


def test_a_new_password_and_logout_all_end_every_session(admin, anonymous, session, monkeypatch):
    first = admin.cookies.get(COOKIE)
    from mailer.cli import main

    monkeypatch.setattr("click.prompt", lambda *a, **k: "another good password")
    result = CliRunner().invoke(main, ["admin", "set-password", "mina"])
    assert result.exit_code == 0 and "1 session(s) ended" in result.stdout
    assert _replay(admin, first).status_code == 303
    anonymous.cookies.clear()
    assert log_in(anonymous, password=PASSWORD).status_code == 401  # the old password is gone
    assert log_in(anonymous, password="another good password").status_code == 303
    second = anonymous.cookies.get(COOKIE)
    result = CliRunner().invoke(main, ["admin", "logout-all", "mina"])
    assert result.exit_code == 0 and "1 session(s) of mina ended" in result.stdout
    assert _replay(anonymous, second).status_code == 303
    assert session.scalar(select(func.count()).select_from(EditorSession)) == 0


def test_logout_all_names_an_unknown_editor_in_one_line():
    from mailer.cli import main

    result = CliRunner().invoke(main, ["admin", "logout-all", "nobody"])
    assert result.exit_code == 1 and result.stderr.strip() == "Error: no editor 'nobody'"


def test_a_cookie_signed_with_the_secret_key_is_no_session(anonymous, editor, settings):
    """Before, a cookie signed by the current or any old key logged in: now only a stored session does."""
    from itsdangerous import URLSafeTimedSerializer

    from subscribers.tokens import signing_keys

    forged = URLSafeTimedSerializer(signing_keys(settings), salt="mailer.admin.session").dumps(
        {"e": editor.id, "n": "x"}
    )
    assert _replay(anonymous, forged).status_code == 303


def test_an_expired_session_is_refused(admin, session):
    from datetime import timedelta

    from mailer.db import utcnow

    row = session.scalar(select(EditorSession))
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert admin.get("/admin").status_code == 303


def test_wrong_passwords_are_throttled_with_retry_after_and_the_right_one_waits_too(
    anonymous, editor
):
    for _ in range(5):
        assert log_in(anonymous, password="wrong password!").status_code == 401
    throttled = log_in(anonymous, password="wrong password!")
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    assert "Too many failed logins. Try again in" in throttled.text  # English: no Accept-Language
    # even the right password waits: a guess made while throttled is never checked
    assert log_in(anonymous).status_code == 429


def test_the_throttle_message_is_in_the_pages_language(anonymous, editor):
    for _ in range(6):
        response = anonymous.post(
            "/admin/login?lang=ko",
            data={
                "name": "mina",
                "password": "wrong password!",
                "csrf_token": csrf_of(anonymous.get("/admin/login?lang=ko").text),
                "next": "/admin",
            },
        )
    assert response.status_code == 429 and "로그인 실패가 너무 많습니다" in response.text


def _live_sessions(runtime) -> int:
    with runtime.sessions() as fresh:
        return fresh.scalar(select(func.count()).select_from(EditorSession))


def test_login_and_logout_are_committed_before_their_answer_starts(runtime, editor):
    """Before, the session row was written (or deleted) after the redirect had gone out: a client
    following it at once could find the new cookie unknown, or the old one still working."""
    from fastapi.testclient import TestClient

    from mailer.web.app import create_app
    from tests.web.conftest import LookAtAnswer

    app = LookAtAnswer(create_app(runtime), lambda: _live_sessions(runtime))
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    assert log_in(client).status_code == 303
    page = client.get("/admin")
    assert client.post("/admin/logout", data={"csrf_token": csrf_of(page.text)}).status_code == 303
    assert app.after("POST", "/admin/login") == [1]
    assert app.after("POST", "/admin/logout") == [0]


@contextmanager
def _serving(app) -> Iterator[str]:
    """The app under uvicorn on a free port, in a thread of this process, as `mailer serve` runs it."""
    import uvicorn

    from tests.broker import free_port

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_over_http_a_logout_ends_the_cookie_and_a_login_starts_one_at_once(runtime, editor):
    """Against a real server, the next request right after the answer: the cookie just logged out is
    refused, the one just issued works, in each of 30 rounds (before, 6 to 15 of 30 rounds went wrong here)."""
    from mailer.web.app import create_app

    wrong = []
    with _serving(create_app(runtime)) as base, httpx.Client(base_url=base) as http:
        for attempt in range(30):
            http.cookies.clear()
            form = http.get("/admin/login")
            pre = form.cookies.get(PRE_COOKIE, "")  # Secure: no jar sends it over http, so by hand
            http.cookies.clear()
            login = http.post(
                "/admin/login",
                data={"name": "mina", "password": PASSWORD, "csrf_token": csrf_of(form.text)},
                headers={"Cookie": f"{PRE_COOKIE}={pre}"},
            )
            token = login.cookies.get(COOKIE, "")
            http.cookies.clear()
            page = http.get("/admin", headers={"Cookie": f"{COOKIE}={token}"})
            if page.status_code != 200:
                wrong.append((attempt, "new cookie refused"))
                continue
            http.post(
                "/admin/logout",
                data={"csrf_token": csrf_of(page.text)},
                headers={"Cookie": f"{COOKIE}={token}"},
            )
            http.cookies.clear()
            if http.get("/admin", headers={"Cookie": f"{COOKIE}={token}"}).status_code != 303:
                wrong.append((attempt, "old cookie accepted"))
    assert wrong == [], f"{len(wrong)} of 30 rounds wrong: {wrong}"
