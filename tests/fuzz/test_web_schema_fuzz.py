"""Schemathesis against the web app's own OpenAPI schema, in process (no server): no 5xx on any route."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hsettings

from mailer.web.app import create_app

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())


@pytest.fixture
def app(session, monkeypatch):
    """A fresh app (its own rate limiter) on the test database, with a webhook key configured (without one
    the webhook answers 503 on purpose, so that SendGrid retries once it is set)."""
    from mailer.config import get_settings
    from mailer.standin import signing

    monkeypatch.setenv("MAILER_SENDGRID_WEBHOOK_PUBLIC_KEY", signing.public_key_b64(signing.generate_private_key()))
    get_settings.cache_clear()
    yield create_app()
    get_settings.cache_clear()


@schema.parametrize()
@hsettings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_route_answers_5xx(case, app):
    response = case.call(app=app)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"
