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
def webhook_client(make_runtime):
    """The web app checking the webhook's posts against KEY."""
    return TestClient(create_app(make_runtime(sendgrid_webhook_public_key=public_key_b64(KEY))))


@pytest.fixture
def deliveries(session, ingested, subscribers_by_lang, settings):
    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    start_send(session, issue, settings, utcnow())
    session.commit()
    return session.scalars(select(Delivery).order_by(Delivery.id)).all()
