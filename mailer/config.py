"""The one Settings object: every MAILER_ variable (the README's settings table) lives here."""

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-secret-change-me"
MIN_SECRET_KEY_LENGTH = 32
MIN_METRICS_TOKEN_LENGTH = 16
SIGNUP_ORIGIN = re.compile(
    r"https?://[a-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?"
)


SENTINEL = "sentinel://"


@dataclass(frozen=True)
class SentinelURL:
    hosts: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    password: str | None = None


def parse_sentinel(url: str) -> SentinelURL:
    """The parts of a `sentinel://[:password@]host:port[,host:port...]/master[/db]` URL (a Redis watched
    by Sentinel, mailer.redis_client); a ValueError saying what is wrong otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "sentinel":
        raise ValueError("a Sentinel URL starts with sentinel://")
    credentials, _, hostlist = parts.netloc.rpartition("@")
    password = (unquote(credentials.partition(":")[2]) or None) if credentials else None
    hosts = []
    for item in hostlist.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"a sentinel is host:port, not {item!r}")
        hosts.append((host.strip("[]"), int(port)))
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise ValueError("a Sentinel URL names the master: sentinel://host:26379/mymaster[/db]")
    if len(path) == 2 and not (path[1].isdigit() and int(path[1]) < 16384):
        raise ValueError(f"a Redis database is a number, not {path[1]!r}")
    return SentinelURL(
        tuple(hosts), unquote(path[0]), int(path[1]) if len(path) == 2 else 0, password
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MAILER_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    log_format: Literal["text", "json"] = "text"  # production always logs JSON lines
    database_url: str = "sqlite:///./mailer.db"
    database_pool_size: int = 10  # per process (PostgreSQL); overflow up to twice as many more
    broker_url: str = ""  # empty: tasks run in-process, no server needed
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    # Old keys still verify links already sent, so rotating the secret breaks no unsubscribe link.
    old_secret_keys: list[SecretStr] = Field(default_factory=list)
    public_url: str = "http://localhost:8000"
    # Proxies whose X-Forwarded-For is believed (comma-separated addresses or networks): the client's
    # address is the right-most one not among them. Sign-up rate limits are per client address. Not *:
    # then the left-most address counts, which the client writes itself.
    trusted_proxies: str = "127.0.0.1"

    mail_backend: Literal["outbox", "sendgrid", "console"] = "outbox"
    outbox_dir: str = "./outbox"
    sendgrid_api_key: SecretStr = SecretStr("")
    sendgrid_host: str = "https://api.sendgrid.com"
    sendgrid_timeout_seconds: float = 30.0
    sendgrid_webhook_public_key: str = ""
    webhook_max_age_seconds: int = 600  # a signed post older than this is refused (replays)
    sendgrid_sandbox: bool = False

    from_email: str = "newsletter@news.example.com"
    from_name_en: str = "The Seoul Ledger"
    from_name_ko: str = "서울 레저"
    reply_to: str = ""
    # --- what every email must carry ---
    # CAN-SPAM: the sender's physical postal address, in every edition and confirmation. Several lines are
    # written with real newlines or a literal \n (an .env value is one line). Production sends nothing without it.
    postal_address: str = ""
    list_id: str = (
        ""  # the List-Id header's id (e.g. weekly.news.example.org); empty: weekly.<public host>
    )

    batch_size: int = Field(
        1000, ge=1, le=1000
    )  # SendGrid: at most 1000 personalizations a request
    batch_lease_seconds: int = 300
    # A send with recipients waiting and nothing accepted this long reads "stalled" (desk, ops status,
    # /metrics), with the reason when one can be told.
    stall_seconds: int = Field(60, ge=5)
    soft_bounce_limit: int = Field(
        3,
        ge=1,
        description="issues in a row with a soft bounce (SendGrid's bounce of type blocked) before "
        "the reader is suppressed; a delivered issue starts the count again",
    )
    sunset_issues: int = Field(
        12,
        ge=0,
        le=1000,
        description="issues delivered without a human open or click before a reader is asked once "
        "whether they still want the digest, and paused without an answer (subscribers.sunset); "
        "0 turns the rule off",
    )
    reconcile_grace_seconds: int = 900
    # ...and longer while SendGrid's webhook stream lags behind the lost answer: up to this long after it
    reconcile_max_wait_seconds: int = 3600
    # An address of the newsroom's: once a lost answer's grace period is over and the webhook stream is quiet,
    # one small message goes here, and its `processed` event shows the stream has passed the loss (no hour's
    # wait). Empty: wait for other traffic, up to reconcile_max_wait_seconds.
    probe_email: str = ""
    send_max_retries: int = 8
    # Shared by every worker (in Redis when a broker is set): 0 means no limit. Per hour is for
    # warming up a new sending domain.
    send_rate_per_second: float = 0
    send_rate_per_hour: int = 0
    maintenance_interval_seconds: float = 30.0  # how often beat looks for stale and unknown batches
    # Counting a 1M-recipient issue's ledger and events takes seconds: the dashboard and /metrics read
    # counts stored by beat this often, for issues in flight or finished within stats_refresh_days.
    stats_refresh_seconds: float = 60.0
    stats_refresh_days: int = 7
    event_retention_days: int = Field(
        30,
        ge=1,
        description="raw webhook events (with their JSON) kept this long once applied; an issue's "
        "counts, links and hourly figures are rolled up and made final before its first go",
    )
    ledger_retention_days: int = Field(
        90,
        ge=1,
        description="ledger rows kept this long after their issue finished (never while it is in "
        "flight or a batch of it unsettled); its counts are rolled up and made final first",
    )
    ledger_compact_days: int = Field(
        7,
        ge=0,
        description="PostgreSQL: an issue's ledger partition, written half full for the updates of its "
        "first days, is rewritten full (VACUUM FULL) once its issue finished this long ago",
    )
    prune_chunk_rows: int = Field(
        10_000, ge=100, description="rows retention deletes per transaction (short locks)"
    )
    prune_hour: int = Field(3, ge=0, le=23, description="hour (UTC) beat runs retention daily")

    ingest_interval_minutes: int = 15
    feed_timeout_seconds: float = 20.0
    feed_max_bytes: int = 10 * 1024 * 1024
    feed_max_redirects: int = 5
    # The newest this many items of a feed are read; the older ones of a larger feed are left out.
    feed_max_items: int = Field(500, ge=1)
    # An item's HTML is cut at this many bytes before it is cleaned, and cut again if cleaning swelled it
    # past them (each link gains a rel attribute); failing that, its summary alone is kept.
    item_max_html_bytes: int = Field(256 * 1024, ge=1024)
    digest_weekday: int = Field(0, ge=0, le=6)  # 0 = Monday
    digest_hour: int = Field(6, ge=0, le=23)
    digest_timezone: str = "Asia/Seoul"
    desk_timezone: str = Field(
        "", description="the IANA zone every desk time is shown in; empty: MAILER_DIGEST_TIMEZONE"
    )
    digest_max_stories: int = 10
    schedule_tick_seconds: float = (
        60.0  # how often beat looks for editions whose send time has come
    )
    admin_session_hours: int = Field(12, ge=1, le=24 * 30)  # an editor's login lasts this long
    # Proofs (test sends) go only to a desk account's own address (an account named by its address)
    # and to addresses at these domains (comma-separated; empty: the domain of from_email), never to
    # a suppressed one; and from each account to at most proofs_per_hour addresses an hour.
    proof_domains: str = Field("", description="domains proofs may go to; empty: the From domain")
    proofs_per_hour: int = Field(20, ge=1, description="addresses an account may proof an hour")
    # Wrong passwords before a login is refused for a while (per account and per client address); each
    # further failure doubles the wait, up to login_max_lockout_seconds.
    login_max_failures: int = Field(5, ge=1)
    login_max_lockout_seconds: int = Field(900, ge=1)
    # Admins must turn on two-factor login (an authenticator app's codes): an admin without it who logs
    # in is sent to enrolment and can do nothing else on the desk until it is on.
    require_2fa: bool = Field(
        False, description="admins must enrol two-factor login before using the desk"
    )
    webhook_max_bytes: int = Field(
        5 * 1024 * 1024, ge=1024
    )  # larger Event Webhook posts are refused (413)
    # The largest desk upload (a subscriber CSV): counted as it arrives, refused (413) past this.
    upload_max_bytes: int = Field(
        50 * 1024 * 1024,
        ge=1024,
        description="largest desk upload (a subscriber CSV), counted as it arrives",
    )
    # Where a desk upload waits for its import task: shared by the web and worker processes (a volume
    # both mount, with a broker); each file is deleted once its import is over.
    upload_dir: str = Field(
        "./uploads", description="where desk uploads wait for their import (web and workers)"
    )
    feed_allow_private: bool = (
        False  # feeds on private, loopback and link-local addresses (tests, intranets); local files
        # too, outside production
    )
    # Confirmation mails sign-ups may send: from one network (an IPv4 /24, an IPv6 /48) and from all, an
    # hour (a bucket that holds as many and refills at that rate). Past either, a sign-up is answered
    # as ever but its mail is held back (an outbox row `skipped`, a warning, a metric).
    confirmations_per_network_per_hour: int = Field(30, ge=1)
    confirmations_per_hour: int = Field(1000, ge=1)
    # Every valid sign-up is answered no sooner than this after it arrived, whatever the address's
    # state: how long the answer takes tells nobody whether the address bounced, complained or is new.
    signup_answer_seconds: float = Field(0.25, ge=0, le=5)
    # The news site's origins where the embeddable sign-up form works: its widget fetches the challenge
    # (GET /signup/challenge) by script, and the site's script may post JSON to POST /signup and read
    # the answer. Comma-separated (https://www.news.example.com), matched exactly. Empty: no other site.
    signup_origins: str = ""
    # A bearer token /metrics asks for. Empty: /metrics is open, which only development and tests allow
    # (production refuses to start without one: the series name issues, counts and queue depths).
    metrics_token: SecretStr = SecretStr("")
    summary_length: int = 200

    @model_validator(mode="after")
    def _refuse_weak_keys_in_production(self) -> "Settings":
        if self.env != "production":
            return self
        key = self.secret_key.get_secret_value()
        if key == DEV_SECRET_KEY or len(key) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"MAILER_SECRET_KEY must be a private value of at least {MIN_SECRET_KEY_LENGTH} "
                "characters when MAILER_ENV=production"
            )
        if any(old.get_secret_value() == DEV_SECRET_KEY for old in self.old_secret_keys):
            raise ValueError(
                "MAILER_OLD_SECRET_KEYS holds the development key: remove it when MAILER_ENV=production"
            )
        if any(len(old.get_secret_value()) < MIN_SECRET_KEY_LENGTH for old in self.old_secret_keys):
            raise ValueError(
                "MAILER_OLD_SECRET_KEYS must hold only private values of at least "
                f"{MIN_SECRET_KEY_LENGTH} characters when MAILER_ENV=production"
            )
        return self

    @model_validator(mode="after")
    def _metrics_need_a_token_in_production(self) -> "Settings":
        if self.env == "production" and (
            len(self.metrics_token.get_secret_value()) < MIN_METRICS_TOKEN_LENGTH
        ):
            raise ValueError(
                f"MAILER_METRICS_TOKEN must be a private value of at least {MIN_METRICS_TOKEN_LENGTH} "
                "characters when MAILER_ENV=production: Prometheus sends it as a bearer token to "
                "scrape /metrics"
            )
        return self

    @model_validator(mode="after")
    def _known_pooler(self) -> "Settings":
        # `?pooler=pgbouncer` on the database URL: PgBouncer in transaction mode (mailer.db reads it)
        poolers = parse_qs(urlsplit(self.database_url).query).get("pooler")
        if poolers and (poolers != ["pgbouncer"] or not self.database_url.startswith("postgresql")):
            raise ValueError(
                "MAILER_DATABASE_URL's pooler option must be pooler=pgbouncer, on a PostgreSQL URL"
            )
        return self

    @model_validator(mode="after")
    def _sentinel_url_is_whole(self) -> "Settings":
        if self.broker_url.startswith(SENTINEL):
            try:
                parse_sentinel(self.broker_url)
            except ValueError as exc:
                raise ValueError(f"MAILER_BROKER_URL: {exc}") from None
        return self

    @model_validator(mode="after")
    def _one_click_needs_https(self) -> "Settings":
        # Every link in an email and in the archive's feeds starts here: never another scheme.
        if not self.public_url.lower().startswith(("https://", "http://")):
            raise ValueError(
                "MAILER_PUBLIC_URL must start with https:// (or http:// while developing)"
            )
        # RFC 8058: a one-click List-Unsubscribe URI must be https, and every link in an email starts here.
        if self.env == "production" and not self.public_url.lower().startswith("https://"):
            raise ValueError("MAILER_PUBLIC_URL must be an https URL when MAILER_ENV=production")
        return self

    @model_validator(mode="after")
    def _list_id_is_a_dot_atom(self) -> "Settings":
        if self.list_id and not re.fullmatch(r"<?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+>?", self.list_id):
            raise ValueError("MAILER_LIST_ID must look like weekly.news.example.org (RFC 2919)")
        return self

    @model_validator(mode="after")
    def _probe_email_is_an_address(self) -> "Settings":
        if self.probe_email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", self.probe_email):
            raise ValueError(
                "MAILER_PROBE_EMAIL must be an email address, like probe@news.example.com"
            )
        return self

    @model_validator(mode="after")
    def _lease_outlasts_a_request(self) -> "Settings":
        # A batch whose lease ran out is judged lost as of the lease's end: no request may outlive it.
        if self.batch_lease_seconds <= self.sendgrid_timeout_seconds:
            raise ValueError(
                "MAILER_BATCH_LEASE_SECONDS must be longer than MAILER_SENDGRID_TIMEOUT_SECONDS"
            )
        return self

    @model_validator(mode="after")
    def _desk_zone_exists(self) -> "Settings":
        try:
            ZoneInfo(self.desk_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"MAILER_DESK_TIMEZONE {self.desk_zone!r} is not an IANA time zone (Asia/Seoul)"
            ) from None
        return self

    @model_validator(mode="after")
    def _signup_origins_are_origins(self) -> "Settings":
        for origin in self.signup_origin_list:
            if not SIGNUP_ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"MAILER_SIGNUP_ORIGINS: {origin!r} is not an origin like "
                    "https://www.news.example.com (scheme and host, an optional port, no path; no *)"
                )
        return self

    @property
    def signup_origin_list(self) -> list[str]:
        """MAILER_SIGNUP_ORIGINS as browsers send an Origin header: lower case, no trailing slash."""
        named = (o.strip().rstrip("/").lower() for o in self.signup_origins.split(","))
        return list(dict.fromkeys(o for o in named if o))

    @property
    def desk_zone(self) -> str:
        """The zone the desk shows every time in."""
        return self.desk_timezone.strip() or self.digest_timezone

    @property
    def tasks_in_process(self) -> bool:
        """No broker: every task runs in the calling process (the embedded default)."""
        return not self.broker_url

    @property
    def public_base(self) -> str:
        return self.public_url.rstrip("/")

    @property
    def postal_lines(self) -> list[str]:
        """The postal address, a line each."""
        return [
            line.strip()
            for line in self.postal_address.replace("\\n", "\n").splitlines()
            if line.strip()
        ]

    def proof_domain_set(self) -> frozenset[str]:
        """The domains proofs may go to, in lower case."""
        named = {d.strip().lower().lstrip("@") for d in self.proof_domains.split(",")} - {""}
        return frozenset(named or {self.from_email.rpartition("@")[2].strip().lower()})

    def sending_refused(self) -> str | None:
        """Why a send (now, scheduled, or by beat) may not start, or None. CAN-SPAM: no address, no mail."""
        if self.env == "production" and not self.postal_lines:
            return "MAILER_POSTAL_ADDRESS is not set: production sends no email without the sender's postal address"
        return None

    @property
    def list_id_header(self) -> str:
        """`<weekly.news.example.org>`: from MAILER_LIST_ID, or weekly. and the public URL's host."""
        found = self.list_id.strip("<>") or "weekly." + (
            urlsplit(self.public_url).hostname or "localhost"
        )
        return f"<{found}>"

    def from_name(self, lang: str) -> str:
        """The sender name of an edition: English only for the English edition."""
        return self.from_name_en if lang == "en" else self.from_name_ko


@lru_cache
def get_settings() -> Settings:
    """The environment's settings: read by entry points only (mailer.wiring, the CLI's group, the
    migrations' env.py), which hand them down."""
    return Settings()
