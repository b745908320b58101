import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import csrf_of

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """Editors' passwords hashed at a low scrypt cost, which their hashes carry, so logging in checks at
    that cost too: at the real one a hash and a check take ~0.1 s of CPU in nearly every desk test."""
    from mailer.web.admin import passwords

    monkeypatch.setattr(passwords, "N", 2**8)


@pytest.fixture
def editor(session):
    from mailer.web.admin.accounts import create_user

    editor = create_user(session, "mina", PASSWORD, role="admin")
    session.commit()
    return editor


@pytest.fixture
def anonymous(runtime, session):
    from mailer.web.app import create_app

    # https: the session cookie is Secure because MAILER_PUBLIC_URL is https in the tests
    return TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)


def log_in(client, name="mina", password=PASSWORD):
    form = client.get("/admin/login")
    return client.post(
        "/admin/login",
        data={
            "name": name,
            "password": password,
            "csrf_token": csrf_of(form.text),
            "next": "/admin",
        },
    )


@pytest.fixture
def admin(anonymous, editor):
    assert log_in(anonymous).status_code == 303
    return anonymous
