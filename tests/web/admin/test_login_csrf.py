"""Login CSRF: the login form is bound to a pre-session cookie, so a foreign page that posts the form
with a token it fetched itself cannot log the victim's browser into the attacker's account."""

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mailer.issues.models import EditorSession
from tests.web.admin.conftest import PASSWORD, csrf_of

PRE = "mailer_admin_pre"


def _post(client, token: str, lang: str = "en"):
    return client.post(
        f"/admin/login?lang={lang}",
        data={"name": "mina", "password": PASSWORD, "csrf_token": token, "next": "/admin"},
    )


def _sessions(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(EditorSession))


def test_the_login_form_sets_a_private_pre_session_cookie(anonymous, editor):
    form = anonymous.get("/admin/login")
    header = next(h for h in form.headers.get_list("set-cookie") if h.startswith(PRE + "="))
    flags = {part.strip().lower() for part in header.split(";")}
    assert {"httponly", "samesite=lax", "secure", "path=/admin"} <= flags
    again = anonymous.get("/admin/login")  # a second tab keeps the cookie the first one set
    assert not any(h.startswith(PRE + "=") for h in again.headers.get_list("set-cookie"))
    assert _post(anonymous, csrf_of(form.text)).status_code == 303  # either tab's form logs in
    assert _post(anonymous, csrf_of(again.text)).status_code == 303


def test_a_token_posted_without_its_cookie_logs_nobody_in(anonymous, editor, runtime, session):
    """The attacker fetches the form in their own browser, then makes the victim's post it."""
    attacker = anonymous
    token = csrf_of(attacker.get("/admin/login").text)
    from mailer.web.app import create_app

    victim = TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)
    refused = _post(victim, token)
    assert refused.status_code == 403
    assert "mailer_admin" not in victim.cookies and _sessions(session) == 0
    assert "cookie" in refused.text and 'name="password"' in refused.text  # the form again, and why


def test_a_token_made_for_another_cookie_is_refused(anonymous, editor, runtime, session):
    token = csrf_of(anonymous.get("/admin/login").text)
    from mailer.web.app import create_app

    victim = TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)
    victim.get("/admin/login")  # the victim has a pre-session cookie of their own
    refused = _post(victim, token, lang="ko")
    assert refused.status_code == 403 and _sessions(session) == 0
    assert "로그인 양식" in refused.text  # the reason, in the page's language
    retry = csrf_of(refused.text)  # the page it shows is bound to the victim's own cookie
    assert _post(victim, retry).status_code == 303 and _sessions(session) == 1
