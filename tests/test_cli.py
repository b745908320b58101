"""The `mailer` command as users and scripts drive it: JSON on stdout, one-line errors, exit codes."""

import json
import os

import pytest
from click.testing import CliRunner

from mailer.cli import main


@pytest.fixture
def run(runtime, session):
    """The command on the test's Runtime, as the group would build it from the environment."""
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args), catch_exceptions=False, obj=runtime)

    return invoke


def test_db_upgrade_migrates_the_database_the_settings_name(run):
    result = run("db", "upgrade")
    assert result.exit_code == 0 and result.output == "database at head\n"


def test_subscribers_add_and_show_json(run):
    result = run("subscribers", "add", "Min.Ji@Example.COM", "--lang", "ko", "--confirmed")
    assert result.exit_code == 0, result.output
    shown = run("subscribers", "show", "min.ji@example.com", "--json")
    data = json.loads(shown.stdout)
    assert (
        data["email"] == "min.ji@example.com"
        and data["lang"] == "ko"
        and data["status"] == "active"
    )
    assert [h["detail"] for h in data["history"]] == ["active, lang ko"]  # English, not its code
    again = run("subscribers", "add", "min.ji@example.com", "--lang", "en")
    assert "already subscribed" in again.output
    assert (
        json.loads(run("subscribers", "show", "min.ji@example.com", "--json").stdout)["lang"]
        == "ko"
    )


def test_bad_input_is_one_line_on_stderr_and_nonzero(run):
    result = run("subscribers", "add", "not-an-address", "--lang", "ko")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert run("issue", "show", "42").exit_code == 1
    assert "no issue #42" in run("issue", "show", "42").stderr


def test_feeds_ingest_articles_issue_flow(run, sample_feeds):
    assert run("feeds", "add", str(sample_feeds["en"]), "--lang", "en").exit_code == 0
    assert run("feeds", "add", str(sample_feeds["ko"]), "--lang", "ko").exit_code == 0
    assert (
        run("feeds", "add", str(sample_feeds["ko"]), "--lang", "ko").exit_code == 1
    )  # already added
    assert "10 new" in run("ingest").output
    feeds = json.loads(run("feeds", "list", "--json").stdout)
    assert [f["items"] for f in feeds] == [10, 10] and all(f["last_error"] is None for f in feeds)
    articles = json.loads(run("articles", "list", "--lang", "ko", "--json").stdout)
    assert len(articles) == 10
    assert set(articles[0]) == {
        "id",
        "lang",
        "title",
        "url",
        "published_at",
        "summary",
        "content_html",
        "pair_id",
    }

    run("subscribers", "add", "reader@example.com", "--lang", "both", "--confirmed")
    drafted = run("issue", "draft")
    assert drafted.exit_code == 0
    number = drafted.stdout.strip().splitlines()[-1]
    assert number == "1"
    shown = json.loads(run("issue", "show", number, "--json").stdout)
    assert shown["number"] == 1 and shown["status"] == "draft"
    assert {e["lang"] for e in shown["editions"]} == {"ko", "en", "both"}
    assert run("issue", "send", number, "--wait").exit_code == 0
    listed = json.loads(run("issue", "list", "--json").stdout)
    assert listed[0]["status"] == "sent"
    assert [e["lang"] for e in listed[0]["editions"]] == [
        "ko",
        "en",
        "both",
    ]  # EDITIONS order everywhere
    assert listed[0]["editions"][2]["deliveries"] == {"sent": 1}
    assert run("issue", "send", number).exit_code == 1  # already sent: refused, nothing resent


def test_preview_writes_the_edition(run, ingested, tmp_path):
    assert run("issue", "draft").exit_code == 0
    out = tmp_path / "ko.html"
    assert run("issue", "preview", "1", "--lang", "ko", "--out", str(out)).exit_code == 0
    assert '<html lang="ko"' in out.read_text("utf-8")


def test_empty_week_drafts_nothing_and_says_so(run):
    result = run("issue", "draft")
    assert result.exit_code == 1 and "no new stories" in result.stderr


def test_worker_without_a_broker_explains_itself(run):
    result = run("worker")
    assert result.exit_code == 1 and "MAILER_BROKER_URL" in result.stderr


def test_pause_resume_and_cancel(run, ingested, subscribers_by_lang, session, settings):
    from mailer.db import utcnow
    from mailer.issues.service import draft_issue, get_issue
    from tests.factories import start_send

    issue = draft_issue(session, utcnow(), settings)
    session.commit()

    start_send(session, issue, settings, utcnow())  # in flight, no batch sent yet
    session.commit()
    assert run("issue", "resume", "1").exit_code == 1  # not paused
    assert run("issue", "pause", "1").output == "issue #1: paused\n"
    # the reason is stored as a code; the CLI says it in English
    assert run("issue", "show", "1").output.startswith("issue #1: paused (paused by an editor)\n")
    assert json.loads(run("issue", "show", "1", "--json").stdout)["status_reason"] == (
        "paused by an editor"
    )
    resumed = run("issue", "resume", "1", "--wait")
    assert resumed.exit_code == 0 and "issue #1: sent" in resumed.output
    session.expire_all()
    assert get_issue(session, 1).status == "sent"
    cancelled = run("issue", "cancel", "1")
    assert cancelled.exit_code == 1 and "cannot become cancelled" in cancelled.stderr


def test_serve_runs_the_workers_asked_for_without_an_access_log(run, monkeypatch, caplog):
    import uvicorn

    import mailer.logs
    from mailer.cli.processes import uvicorn_options

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    monkeypatch.setattr(mailer.logs, "configure", lambda *a, **k: None)  # keep pytest's log capture
    assert run("serve", "--port", "8123", "--workers", "2").exit_code == 0
    assert calls == [("mailer.wiring:web_app", uvicorn_options("127.0.0.1", 8123, 2, "127.0.0.1"))]
    options = calls[0][1]
    assert (
        options["access_log"] is False
    )  # a line per request would log every unsubscribe link's token
    assert options["workers"] == 2 and options["proxy_headers"] and options["factory"]
    assert options["forwarded_allow_ips"] == "127.0.0.1"  # MAILER_TRUSTED_PROXIES
    assert "each keeps its own sign-up rate limits" in caplog.text  # no broker in tests
    assert run("serve", "--workers", "0").exit_code == 2


@pytest.mark.parametrize("args", [["issue", "send", "1"], ["subscribers", "show", "a@example.com"]])
def test_a_database_that_does_not_answer_is_one_line_not_a_traceback(make_runtime, args):
    down = make_runtime(database_url="postgresql+psycopg://mailer@127.0.0.1:1/mailer")
    result = CliRunner().invoke(main, args, obj=down)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: the database is not answering: ")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.output


def test_resend_failed_sends_the_failed_batches_again(
    run, ingested, subscribers_by_lang, session, settings
):
    from sqlalchemy import select

    from mailer.db import utcnow
    from mailer.delivery import batches
    from mailer.delivery.models import Delivery, DeliveryStatus
    from mailer.issues.service import draft_issue, get_issue
    from mailer.kv import MemoryStore
    from mailer.mail.senders import SendError
    from tests.factories import start_send

    class Refusing:
        name = "refusing"

        def send(self, batch):
            raise SendError("400 Bad Request", kind=SendError.PERMANENT, status="400")

    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    refused = run("issue", "resend-failed", "1")  # a draft: nothing failed
    assert refused.exit_code == 1 and "only a sent or failed issue" in refused.stderr
    for batch_id in start_send(session, issue, settings, utcnow()):
        batches.send_batch(
            session, batch_id, sender=Refusing(), settings=settings, store=MemoryStore()
        )
    session.expire_all()
    assert get_issue(session, 1).status == "failed"
    resent = run("issue", "resend-failed", "1", "--wait")
    assert resent.exit_code == 0 and "failed batches resent, 3 batches queued" in resent.output
    session.expire_all()
    assert get_issue(session, 1).status == "sent"
    assert DeliveryStatus.FAILED not in set(session.scalars(select(Delivery.status)))


def test_ingest_shows_a_progress_bar_on_a_terminal_and_keeps_its_lines(
    run, sample_feeds, monkeypatch
):
    from mailer.cli import feeds

    run("feeds", "add", str(sample_feeds["en"]), "--lang", "en")
    run("feeds", "add", str(sample_feeds["ko"]), "--lang", "ko")
    piped = run("ingest")
    assert "ingesting" not in piped.stderr  # a pipe or a log gets the lines alone
    monkeypatch.setattr(feeds, "_stderr_is_tty", lambda: True)
    shown = run("ingest")
    assert shown.stderr.startswith("ingesting")  # click draws the bar itself on a real terminal
    assert shown.stdout.splitlines() == [
        f"{sample_feeds[lang]}: 0 new, 0 updated" for lang in ("en", "ko")
    ]


def test_ops_status_imports_only_what_it_needs(tmp_path, redis_url):
    """A short command pays for its own imports: no Celery app, Alembic, Jinja, MJML, SendGrid or
    FastAPI, and no other command group's module."""
    import subprocess
    import sys
    import time

    import redis

    from mailer.broker import HEARTBEATS_KEY, beat_heart
    from mailer.db import upgrade_database

    url = f"sqlite:///{tmp_path / 'ops.db'}"
    upgrade_database(url)
    heart = redis.Redis.from_url(redis_url)
    beat_heart(heart, "send-1@probe", ["send"], [], time.time())  # a worker online, as it says
    probe = (
        "import sys\n"
        "from mailer.cli import main\n"
        "try:\n"
        "    main(['ops', 'status'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('celery', 'alembic', 'jinja2', 'mjml', 'sendgrid', 'fastapi', 'mailer.cli.issues',"
        " 'mailer.cli.subscribers', 'mailer.celery_app')\n"
        "print('LOADED', sorted(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, "MAILER_DATABASE_URL": url, "MAILER_BROKER_URL": redis_url}
    run = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False
    )
    heart.hdel(HEARTBEATS_KEY, "send-1@probe")
    assert "LOADED []" in run.stdout, run.stdout + run.stderr
    assert "send-1@probe [send]: idle" in run.stdout
