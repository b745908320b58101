"""The webhook's fixtures: a client that knows the signing key, and deliveries for events to name."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailer.db import utcnow
from mailer.delivery.models import Delivery
from mailer.issues.service import draft_issue
from mailer.standin.signing import generate_private_key, public_key_b64
from mailer.web.app import create_app
from tests.factories import start_send

KEY = generate_private_key()


@pytest.fixture
def client(make_runtime, monkeypatch):
    from mailer.config import get_settings

    # transitional: until the web modules read the runtime's settings
    monkeypatch.setenv("MAILER_SENDGRID_WEBHOOK_PUBLIC_KEY", public_key_b64(KEY))
    get_settings.cache_clear()
    return TestClient(create_app(make_runtime(sendgrid_webhook_public_key=public_key_b64(KEY))))


@pytest.fixture
def deliveries(session, ingested, subscribers_by_lang, settings):
    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    start_send(session, issue, settings, utcnow())
    session.commit()
    return session.scalars(select(Delivery).order_by(Delivery.id)).all()
