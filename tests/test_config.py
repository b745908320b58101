import pytest
from pydantic import ValidationError

from mailer.config import DEV_SECRET_KEY, Settings


def test_defaults_are_the_embedded_setup(monkeypatch):
    for name in ("MAILER_DATABASE_URL", "MAILER_BROKER_URL", "MAILER_MAIL_BACKEND", "MAILER_OUTBOX_DIR"):
        monkeypatch.delenv(name, raising=False)
    s = Settings(_env_file=None)
    assert s.database_url == "sqlite:///./mailer.db"
    assert s.broker_url == ""
    assert s.mail_backend == "outbox"
    assert s.outbox_dir == "./outbox"
    assert s.sendgrid_host == "https://api.sendgrid.com"
    assert s.batch_lease_seconds == 300
    assert s.reconcile_grace_seconds == 900


def test_reads_mailer_prefixed_environment(monkeypatch):
    monkeypatch.setenv("MAILER_BROKER_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("MAILER_PUBLIC_URL", "https://news.example.com/")
    s = Settings(_env_file=None)
    assert s.broker_url == "redis://127.0.0.1:6379/3"
    assert s.public_base == "https://news.example.com"


def test_production_refuses_the_default_secret(monkeypatch):
    monkeypatch.setenv("MAILER_ENV", "production")
    monkeypatch.setenv("MAILER_SECRET_KEY", DEV_SECRET_KEY)
    with pytest.raises(ValidationError, match="MAILER_SECRET_KEY"):
        Settings(_env_file=None)
    monkeypatch.setenv("MAILER_SECRET_KEY", "a-real-private-secret")
    assert Settings(_env_file=None).env == "production"


def test_secrets_do_not_show_in_repr(monkeypatch):
    monkeypatch.setenv("MAILER_SENDGRID_API_KEY", "SG.very-secret")
    s = Settings(_env_file=None)
    assert "very-secret" not in repr(s)
    assert "very-secret" not in str(s.model_dump())


def test_unknown_backend_is_refused(monkeypatch):
    monkeypatch.setenv("MAILER_MAIL_BACKEND", "carrier-pigeon")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)
