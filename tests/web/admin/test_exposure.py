"""What the app shows to strangers: no OpenAPI schema listing the admin routes outside development, and
/metrics behind a bearer token when MAILER_METRICS_TOKEN is set."""

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr


def test_the_schema_is_refused_to_strangers_and_served_to_an_editor(anonymous, admin):
    stranger = TestClient(anonymous.app, base_url="https://testserver", follow_redirects=False)
    assert stranger.get("/openapi.json").status_code == 404  # not at the usual address at all
    refused = stranger.get("/admin/openapi.json")
    assert refused.status_code == 303 and refused.headers["location"].startswith("/admin/login")
    schema = admin.get("/admin/openapi.json")
    assert schema.status_code == 200 and "/admin/issues/{number}" in schema.json()["paths"]


def test_the_schema_is_open_while_developing(make_runtime):
    from mailer.web.app import create_app

    runtime = make_runtime(env="development")
    assert TestClient(create_app(runtime)).get("/admin/openapi.json").status_code == 200


@pytest.fixture
def scraper(make_runtime, session):
    from mailer.web.app import create_app

    return TestClient(create_app(make_runtime(metrics_token=SecretStr("scrape-me-please"))))


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", "Basic scrape-me-please", "Bearer scrape-me-pleas"]
)
def test_metrics_refuses_a_scrape_without_the_token(scraper, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = scraper.get("/metrics", headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    assert "mailer_" not in response.text


def test_metrics_answers_a_scrape_with_the_token(scraper):
    response = scraper.get("/metrics", headers={"Authorization": "Bearer scrape-me-please"})
    assert response.status_code == 200 and "mailer_batches" in response.text


def test_metrics_is_open_without_a_token_setting(anonymous):
    assert anonymous.get("/metrics").status_code == 200
