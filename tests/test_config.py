import pytest
from pydantic import ValidationError

from mailer.config import DEV_SECRET_KEY, Settings

METRICS_TOKEN = "scrape-token-" + "m" * 16


@pytest.fixture(autouse=True)
def _metrics_token(monkeypatch):
    """Production asks for a metrics token: these tests are about other settings."""
    monkeypatch.setenv("MAILER_METRICS_TOKEN", METRICS_TOKEN)


def test_defaults_are_the_embedded_setup(monkeypatch):
    for name in (
        "MAILER_DATABASE_URL",
        "MAILER_BROKER_URL",
        "MAILER_MAIL_BACKEND",
        "MAILER_OUTBOX_DIR",
    ):
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


STRONG_KEY = "k" * 32


@pytest.mark.parametrize("key", [DEV_SECRET_KEY, "", "x", "k" * 31])
def test_production_refuses_a_default_or_short_secret(monkeypatch, key):
    monkeypatch.setenv("MAILER_ENV", "production")
    monkeypatch.setenv("MAILER_SECRET_KEY", key)
    with pytest.raises(
        ValidationError, match="MAILER_SECRET_KEY must be a private value of at least 32"
    ):
        Settings(_env_file=None)
    monkeypatch.setenv("MAILER_SECRET_KEY", STRONG_KEY)
    assert Settings(_env_file=None).env == "production"


def test_production_refuses_the_development_key_among_the_old_ones(monkeypatch):
    monkeypatch.setenv("MAILER_ENV", "production")
    monkeypatch.setenv("MAILER_SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("MAILER_OLD_SECRET_KEYS", f'["{"o" * 32}", "{DEV_SECRET_KEY}"]')
    with pytest.raises(ValidationError, match="MAILER_OLD_SECRET_KEYS holds the development key"):
        Settings(_env_file=None)
    monkeypatch.setenv("MAILER_OLD_SECRET_KEYS", f'["{"o" * 32}"]')
    assert len(Settings(_env_file=None).old_secret_keys) == 1


@pytest.mark.parametrize("old", ["", "x", "o" * 31])
def test_production_refuses_a_short_old_key(monkeypatch, old):
    monkeypatch.setenv("MAILER_ENV", "production")
    monkeypatch.setenv("MAILER_SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("MAILER_OLD_SECRET_KEYS", f'["{"o" * 32}", "{old}"]')
    with pytest.raises(
        ValidationError, match="MAILER_OLD_SECRET_KEYS must hold only private values of at least 32"
    ):
        Settings(_env_file=None)
    monkeypatch.setenv("MAILER_ENV", "development")
    assert len(Settings(_env_file=None).old_secret_keys) == 2


def test_a_weak_production_key_is_one_line_from_the_cli(monkeypatch):
    from click.testing import CliRunner

    from mailer.cli import main
    from mailer.config import get_settings

    monkeypatch.setenv("MAILER_ENV", "production")
    monkeypatch.setenv("MAILER_SECRET_KEY", "x")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["feeds", "list"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        (
            "error: invalid settings: MAILER_SECRET_KEY must be a private value of at least 32 characters when "
            "MAILER_ENV=production"
        )
    ]


def test_secrets_do_not_show_in_repr(monkeypatch):
    monkeypatch.setenv("MAILER_SENDGRID_API_KEY", "SG.very-secret")
    s = Settings(_env_file=None)
    assert "very-secret" not in repr(s)
    assert "very-secret" not in str(s.model_dump())


def test_unknown_backend_is_refused(monkeypatch):
    monkeypatch.setenv("MAILER_MAIL_BACKEND", "carrier-pigeon")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


@pytest.mark.parametrize("token", [None, "", "short-token"])
def test_production_refuses_to_start_with_metrics_open_or_behind_a_short_token(monkeypatch, token):
    monkeypatch.setenv("MAILER_ENV", "production")
    monkeypatch.setenv("MAILER_SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("MAILER_PUBLIC_URL", "https://news.example.com")
    if token is None:
        monkeypatch.delenv("MAILER_METRICS_TOKEN")
    else:
        monkeypatch.setenv("MAILER_METRICS_TOKEN", token)
    with pytest.raises(ValidationError, match="MAILER_METRICS_TOKEN must be a private value"):
        Settings(_env_file=None)
    monkeypatch.setenv("MAILER_ENV", "development")
    assert Settings(_env_file=None).env == "development"  # open /metrics is fine while developing
    monkeypatch.setenv("MAILER_ENV", "production")
    monkeypatch.setenv("MAILER_METRICS_TOKEN", METRICS_TOKEN)
    assert Settings(_env_file=None).metrics_token.get_secret_value() == METRICS_TOKEN


def test_production_refuses_an_http_public_url(monkeypatch):
    monkeypatch.setenv("MAILER_ENV", "production")
    monkeypatch.setenv("MAILER_SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("MAILER_PUBLIC_URL", "http://news.example.com")
    with pytest.raises(
        ValidationError, match="MAILER_PUBLIC_URL must be an https URL when MAILER_ENV=production"
    ):
        Settings(_env_file=None)
    monkeypatch.setenv("MAILER_ENV", "development")
    assert Settings(_env_file=None).public_url == "http://news.example.com"  # fine while developing
    monkeypatch.setenv("MAILER_ENV", "production")
    monkeypatch.setenv("MAILER_PUBLIC_URL", "https://news.example.com")
    assert Settings(_env_file=None).env == "production"


def test_the_postal_address_has_one_or_more_lines_and_production_cannot_send_without_it(
    monkeypatch,
):
    monkeypatch.setenv("MAILER_POSTAL_ADDRESS", r"110 Sejong-daero\nJung-gu, Seoul 04524")
    assert Settings(_env_file=None).postal_lines == ["110 Sejong-daero", "Jung-gu, Seoul 04524"]
    monkeypatch.setenv("MAILER_POSTAL_ADDRESS", "")
    assert (
        Settings(_env_file=None).sending_refused() is None
    )  # development: mail may go out for a test
    monkeypatch.setenv("MAILER_ENV", "production")
    monkeypatch.setenv("MAILER_SECRET_KEY", STRONG_KEY)
    assert "MAILER_POSTAL_ADDRESS is not set" in Settings(_env_file=None).sending_refused()
    monkeypatch.setenv("MAILER_POSTAL_ADDRESS", "110 Sejong-daero, Seoul")
    assert Settings(_env_file=None).sending_refused() is None


@pytest.mark.parametrize("value", ["weekly news", "<weekly>", "a@b.c"])
def test_a_malformed_list_id_is_refused(monkeypatch, value):
    monkeypatch.setenv("MAILER_LIST_ID", value)
    with pytest.raises(ValidationError, match="MAILER_LIST_ID must look like"):
        Settings(_env_file=None)


def test_a_probe_address_must_be_an_address():
    with pytest.raises(ValueError, match="MAILER_PROBE_EMAIL"):
        Settings(probe_email="newsroom")
    assert Settings(probe_email="probe@news.example.com").probe_email == "probe@news.example.com"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://app@db/mailer?pooler=pgpool",
        "postgresql+psycopg://app@db/mailer?pooler=pgbouncer&pooler=pgbouncer",
        "sqlite:///./mailer.db?pooler=pgbouncer",
    ],
)
def test_a_database_pooler_other_than_pgbouncer_is_refused_in_one_line(monkeypatch, url):
    from click.testing import CliRunner

    from mailer.cli import main
    from mailer.config import get_settings

    monkeypatch.setenv("MAILER_DATABASE_URL", url)
    with pytest.raises(ValidationError, match="pooler option must be pooler=pgbouncer"):
        Settings(_env_file=None)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["issue", "list"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        (
            "error: invalid settings: MAILER_DATABASE_URL's pooler option must be pooler=pgbouncer, "
            "on a PostgreSQL URL"
        )
    ]


def test_the_pgbouncer_pooler_is_taken(monkeypatch):
    monkeypatch.setenv("MAILER_DATABASE_URL", "postgresql+psycopg://app@db/mailer?pooler=pgbouncer")
    assert Settings(_env_file=None).database_url.endswith("?pooler=pgbouncer")


@pytest.mark.parametrize("url", ["localhost:8000", "javascript:alert(1)", "//news.example.com"])
def test_the_public_url_is_http_or_https_in_every_environment(monkeypatch, url):
    monkeypatch.setenv("MAILER_ENV", "development")
    monkeypatch.setenv("MAILER_PUBLIC_URL", url)
    with pytest.raises(ValidationError, match="MAILER_PUBLIC_URL must start with https://"):
        Settings(_env_file=None)
