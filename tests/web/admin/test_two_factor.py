"""Two-factor login: enrolment from the desk (QR code, a confirming code, recovery codes shown once),
the login's second step (a code used once, a recovery code used once, throttled), MAILER_REQUIRE_2FA,
turning it off, and the CLI's reset for a locked-out admin."""

import re
import time

import pyotp
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailer.issues.models import Editor, EditorSession, RecoveryCode
from tests.web.admin.conftest import PASSWORD, csrf_of, log_in

COOKIE = "mailer_admin"


def _field(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', html).group(1)


def enrol(client) -> tuple[str, list[str]]:
    """Turn two-factor login on from the desk; returns the secret and the recovery codes."""
    page = client.get("/admin/two-factor")
    secret = re.search(r'id="secret"[^>]*>([^<]+)<', page.text).group(1).replace(" ", "")
    done = client.post(
        "/admin/two-factor",
        data={
            "action": "enable",
            "token": _field(page.text, "token"),
            "code": pyotp.TOTP(secret).now(),
            "csrf_token": csrf_of(page.text),
        },
    )
    assert done.status_code == 200, done.text
    return secret, re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.text)


def later(secret: str, steps: int = 1) -> str:
    """The code of a coming time step: the window takes it, and it is one not used yet."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def second_step(client, code: str, name: str = "mina"):
    first = log_in(client, name)
    assert first.status_code == 200 and COOKIE not in client.cookies  # no session yet
    return client.post(
        "/admin/login/code",
        data={"pending": _field(first.text, "pending"), "code": code, "next": "/admin"},
    )


@pytest.fixture
def fresh(runtime):
    """Another browser, with no cookie."""
    from mailer.web.app import create_app

    return TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)


def test_enrolment_shows_a_qr_code_and_needs_a_right_code(admin, session, settings):
    from mailer.web.admin import totp

    page = admin.get("/admin/two-factor")
    secret = re.search(r'id="secret"[^>]*>([^<]+)<', page.text).group(1).replace(" ", "")
    uri = totp.provisioning_uri(secret, "mina", settings.from_name_en)
    assert uri.startswith("otpauth://totp/") and "issuer=" in uri
    assert totp.qr_svg(uri) in page.text and "<svg" in page.text  # drawn here, no outside service
    assert page.headers["cache-control"] == "no-store"
    wrong = admin.post(
        "/admin/two-factor",
        data={
            "action": "enable",
            "token": _field(page.text, "token"),
            "code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert wrong.status_code == 400 and "That code is not right" in wrong.text
    assert secret in wrong.text.replace(" ", "")  # the same secret again: the app has it already
    assert session.scalar(select(Editor.totp_enabled_at)) is None


def test_enrolment_keeps_the_secret_sealed_and_the_codes_hashed(admin, session):
    secret, codes = enrol(admin)
    assert len(codes) == 10 == len(set(codes))
    session.expire_all()
    stored = session.scalar(select(Editor))
    assert stored.has_2fa and stored.totp_secret and secret not in stored.totp_secret
    hashes = session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(hashes) == 10 and not set(codes) & set(hashes)
    assert "recovery-codes" not in admin.get("/admin/two-factor").text  # shown once only
    assert re.search(r'<td class="two-factor"[^>]*>On</td>', admin.get("/admin/editors").text)


def test_login_needs_the_code_after_the_password(admin, fresh, session):
    secret, _ = enrol(admin)
    wrong = second_step(fresh, "000000" if later(secret) != "000000" else "111111")
    assert wrong.status_code == 401 and COOKIE not in fresh.cookies
    assert "That code is not right" in wrong.text
    right = second_step(fresh, later(secret))
    assert right.status_code == 303 and right.headers["location"] == "/admin"
    assert fresh.get("/admin").status_code == 200


def test_a_code_cannot_be_used_twice(admin, fresh, runtime):
    secret, _ = enrol(admin)
    code = later(secret)
    assert second_step(fresh, code).status_code == 303
    fresh.cookies.clear()
    replayed = second_step(fresh, code)
    assert replayed.status_code == 401 and COOKIE not in fresh.cookies
    # nor the code that turned it on: a code seen over a shoulder at enrolment logs nobody in
    secret2, _ = enrol_other(runtime)
    assert second_step(fresh, pyotp.TOTP(secret2).now(), name="jun").status_code == 401


def enrol_other(runtime):
    """A second account, enrolled in its own browser: jun."""
    from mailer.web.admin.accounts import create_user
    from mailer.web.app import create_app

    with runtime.sessions() as s:
        create_user(s, "jun", PASSWORD, role="editor")
        s.commit()
    other = TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)
    assert log_in(other, "jun").status_code == 303
    return enrol(other)


def test_a_recovery_code_works_once(admin, fresh, session):
    _, codes = enrol(admin)
    assert second_step(fresh, codes[0].upper().replace("-", " ")).status_code == 303
    fresh.cookies.clear()
    assert second_step(fresh, codes[0]).status_code == 401
    assert session.scalar(select(func.count()).select_from(RecoveryCode)) == 9


def test_the_second_step_is_throttled_like_the_password(admin, fresh):
    secret, _ = enrol(admin)
    first = log_in(fresh)
    pending = _field(first.text, "pending")
    for _ in range(5):
        data = {"pending": pending, "code": "999999", "next": "/admin"}
        assert fresh.post("/admin/login/code", data=data).status_code == 401
    data = {"pending": pending, "code": later(secret), "next": "/admin"}
    throttled = fresh.post("/admin/login/code", data=data)
    assert throttled.status_code == 429 and "Retry-After" in throttled.headers
    assert COOKIE not in fresh.cookies


def test_the_half_logged_in_token_is_bound_to_its_browser(admin, fresh, runtime):
    secret, _ = enrol(admin)
    pending = _field(log_in(fresh).text, "pending")
    from mailer.web.app import create_app

    thief = TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)
    thief.get("/admin/login")
    data = {"pending": pending, "code": later(secret), "next": "/admin"}
    refused = thief.post("/admin/login/code", data=data)
    assert refused.status_code == 401 and COOKIE not in thief.cookies
    assert 'name="password"' in refused.text  # back to the login form


def test_turning_it_off_needs_a_code_or_the_password(admin, session):
    enrol(admin)
    page = admin.get("/admin/two-factor")
    data = {"action": "disable", "proof": "wrong password", "csrf_token": csrf_of(page.text)}
    assert admin.post("/admin/two-factor", data=data).status_code == 400
    session.expire_all()
    assert session.scalar(select(Editor)).has_2fa
    data["proof"] = PASSWORD
    assert admin.post("/admin/two-factor", data=data).status_code == 303
    session.expire_all()
    assert not session.scalar(select(Editor)).has_2fa
    assert session.scalar(select(func.count()).select_from(RecoveryCode)) == 0


def test_new_recovery_codes_void_the_old_ones(admin, fresh):
    secret, old = enrol(admin)
    page = admin.get("/admin/two-factor")
    data = {"action": "codes", "proof": later(secret), "csrf_token": csrf_of(page.text)}
    made = admin.post("/admin/two-factor", data=data)
    new = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", made.text)
    assert len(new) == 10 and not set(new) & set(old)
    assert second_step(fresh, old[1]).status_code == 401
    fresh.cookies.clear()
    assert second_step(fresh, new[1]).status_code == 303


@pytest.fixture
def strict(make_runtime, editor):
    """The desk with MAILER_REQUIRE_2FA=true, mina (an admin) logged in without two-factor login."""
    from mailer.web.app import create_app

    desk = TestClient(
        create_app(make_runtime(require_2fa=True)),
        base_url="https://testserver",
        follow_redirects=False,
    )
    assert log_in(desk).status_code == 303
    return desk


def test_require_2fa_sends_an_admin_to_enrolment_until_enrolled(strict, session):
    for path in ("/admin", "/admin/editors", "/admin/subscribers", "/admin/openapi.json"):
        sent = strict.get(path)
        assert sent.status_code == 303 and sent.headers["location"] == "/admin/two-factor"
    page = strict.get("/admin/two-factor")
    assert page.status_code == 200 and "Admins must turn on two-factor login" in page.text
    token = csrf_of(page.text)
    data = {"action": "add", "name": "jun", "password": PASSWORD, "role": "admin"}
    refused = strict.post("/admin/editors", data={**data, "csrf_token": token})
    assert refused.status_code == 303 and refused.headers["location"] == "/admin/two-factor"
    assert session.scalar(select(func.count()).select_from(Editor)) == 1  # nothing was added
    enrol(strict)
    assert strict.get("/admin").status_code == 200
    page = strict.get("/admin/two-factor")
    assert "Turn off two-factor login" not in page.text  # an admin must keep it on
    data = {"action": "disable", "proof": PASSWORD, "csrf_token": csrf_of(page.text)}
    assert strict.post("/admin/two-factor", data=data).status_code == 400


def test_require_2fa_leaves_editors_free(make_runtime, editor, session):
    from mailer.web.admin.accounts import create_user
    from mailer.web.app import create_app

    create_user(session, "jun", PASSWORD, role="editor")
    session.commit()
    desk = TestClient(
        create_app(make_runtime(require_2fa=True)),
        base_url="https://testserver",
        follow_redirects=False,
    )
    assert log_in(desk, "jun").status_code == 303
    assert desk.get("/admin").status_code == 200


def test_the_pages_speak_korean(admin):
    page = admin.get("/admin/two-factor?lang=ko")
    assert "2단계 로그인" in page.text


def test_the_cli_resets_a_locked_out_admins_two_factor_login(admin, fresh, session):
    from mailer.cli import main

    enrol(admin)
    result = CliRunner().invoke(main, ["admin", "reset-2fa", "mina"])
    assert result.exit_code == 0, result.output
    assert "two-factor login for mina turned off; 1 session(s) ended" in result.stdout
    session.expire_all()
    assert not session.scalar(select(Editor)).has_2fa
    assert session.scalar(select(func.count()).select_from(EditorSession)) == 0
    assert log_in(fresh).status_code == 303  # the password alone logs in again
    unknown = CliRunner().invoke(main, ["admin", "reset-2fa", "nobody"])
    assert unknown.exit_code == 1 and unknown.stderr.strip() == "Error: no editor 'nobody'"
