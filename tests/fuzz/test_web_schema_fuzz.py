"""Schemathesis against the web app's own OpenAPI schema, in process (no server): no 5xx on any route,
anonymous or with an editor's session."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hsettings

from mailer.config import Settings
from mailer.web.app import create_app
from mailer.wiring import build_runtime

pytestmark = pytest.mark.slow

# The schema as the app makes it: /openapi.json is served to editors only outside development.
schema = schemathesis.openapi.from_dict(
    create_app(build_runtime(Settings(_env_file=None, env="test"))).openapi()
)


@pytest.fixture
def app(make_runtime, session):
    """A fresh app (its own rate limiter) on the test database, with a webhook key configured (without one
    the webhook answers 503 on purpose, so that SendGrid retries once it is set)."""
    from mailer.standin import signing

    key = signing.public_key_b64(signing.generate_private_key())
    return create_app(make_runtime(sendgrid_webhook_public_key=key))


@schema.parametrize()
@hsettings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_route_answers_5xx(case, app):
    response = case.call(app=app)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code}"
    )


@pytest.fixture
def editor_cookie(session, app):
    from fastapi.testclient import TestClient

    from mailer.db import utcnow
    from mailer.web.admin import accounts, sessions

    editor = accounts.create_user(session, "fuzz", "a long enough password")
    cookie = {
        sessions.COOKIE: sessions.start(session, editor.id, utcnow(), app.state.runtime.settings)
    }
    session.commit()
    desk = TestClient(
        app, base_url="https://testserver", cookies=cookie, follow_redirects=False
    ).get("/admin")
    assert (
        desk.status_code == 200
    )  # the cookie is a live session: the desk's routes are fuzzed as an editor
    return cookie


@schema.parametrize()
@hsettings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_route_answers_5xx_to_an_editor(case, app, editor_cookie):
    response = case.call(app=app, cookies=editor_cookie)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code}"
    )
