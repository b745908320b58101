"""`mailer issue test`: a proof of one edition to chosen addresses, not a delivery of the issue."""

from email import policy
from email.parser import BytesParser
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from mailer.cli import main
from mailer.db import utcnow
from mailer.delivery.models import Delivery
from mailer.issues.service import draft_issue


def test_issue_test_sends_a_marked_proof_through_the_backend_and_records_nothing(
    session, ingested, settings, runtime
):
    draft_issue(session, utcnow(), settings)
    session.commit()
    result = CliRunner().invoke(
        main,
        [
            "issue",
            "test",
            "1",
            "--to",
            "Ed@News.Example.com",
            "--to",
            "b@news.example.com",
            "--lang",
            "en",
        ],
        obj=runtime,
    )
    assert result.exit_code == 0, result.output
    files = sorted((Path(settings.outbox_dir) / "test" / "en").glob("*.eml"))
    assert len(files) == 2
    msg = BytesParser(policy=policy.default).parsebytes(files[0].read_bytes())
    assert msg["Subject"].startswith("[TEST] The Seoul Ledger Weekly No. 1: ")
    assert msg["To"] in ("ed@news.example.com", "b@news.example.com")
    html = msg.get_body(("html",)).get_content()
    assert (
        "%unsubscribe_url%" not in html
        and "/unsubscribe/" not in html
        and "/subscribe?lang=en" in html
    )
    assert session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_issue_test_mails_only_the_newsroom_and_never_a_suppressed_address(
    session, ingested, settings, runtime
):
    from subscribers import service

    draft_issue(session, utcnow(), settings)
    service.erase(session, "gone@news.example.com")
    session.commit()
    for to, words in (
        ("someone@elsewhere.org", "proofs go only to desk accounts and to news.example.com"),
        ("gone@news.example.com", "is suppressed"),
    ):
        result = CliRunner().invoke(main, ["issue", "test", "1", "--to", to], obj=runtime)
        assert result.exit_code == 1 and words in result.output
    assert not (Path(settings.outbox_dir) / "test").exists()


def test_issue_test_refuses_a_bad_address(session, ingested, settings):
    draft_issue(session, utcnow(), settings)
    session.commit()
    result = CliRunner().invoke(main, ["issue", "test", "1", "--to", "not-an-address"])
    assert result.exit_code == 1 and "error:" in result.output


def test_issue_schedule_stores_per_edition_times(session, ingested, settings):
    draft_issue(session, utcnow(), settings)
    session.commit()
    runner = CliRunner()
    ok = runner.invoke(main, ["issue", "schedule", "1", "--at", "2099-01-05T07:00", "--lang", "ko"])
    assert ok.exit_code == 0, ok.output
    ok = runner.invoke(
        main,
        [
            "issue",
            "schedule",
            "1",
            "--at",
            "2099-01-05T07:00",
            "--lang",
            "en",
            "--tz",
            "America/New_York",
        ],
    )
    assert ok.exit_code == 0, ok.output
    import json

    shown = json.loads(runner.invoke(main, ["issue", "show", "1", "--json"]).output)
    times = {e["lang"]: e["send_at"] for e in shown["editions"]}
    assert shown["status"] == "scheduled"
    assert times == {
        "ko": "2099-01-04T22:00:00+00:00",
        "en": "2099-01-05T12:00:00+00:00",
        "both": None,
    }
    bad = runner.invoke(main, ["issue", "schedule", "1", "--at", "2001-01-01T07:00"])
    assert bad.exit_code == 1 and "in the past" in bad.output
    # the command line is the operator's: its schedule is approved as it is made
    assert {e["lang"]: e["approved_by"] for e in shown["editions"]} == {
        "ko": "command line",
        "en": "command line",
        "both": None,
    }


def test_issue_show_says_which_send_time_awaits_approval(session, ingested, settings):
    from mailer.issues import scheduling

    issue = draft_issue(session, utcnow(), settings)
    when = scheduling.parse_when("2099-01-05T07:00", "UTC")
    scheduling.schedule(session, issue, ("ko",), when, utcnow(), settings, approved_by=None)
    scheduling.schedule(session, issue, ("en",), when, utcnow(), settings, approved_by="mina")
    session.commit()
    lines = CliRunner().invoke(main, ["issue", "show", "1"]).output.splitlines()
    ko = next(line for line in lines if "[ko]" in line)
    en = next(line for line in lines if "[en]" in line)
    assert "awaiting an admin's approval" in ko and "awaiting" not in en


def test_admin_create_user_asks_twice_and_stores_a_scrypt_hash(session):
    from mailer.issues.models import Editor

    result = CliRunner().invoke(
        main, ["admin", "create-user", "mina"], input="long enough pw\nlong enough pw\n"
    )
    assert result.exit_code == 0, result.output
    editor = session.scalar(select(Editor).where(Editor.name == "mina"))
    assert editor.password_hash.startswith("scrypt$") and "long enough" not in editor.password_hash
    again = CliRunner().invoke(
        main, ["admin", "create-user", "mina"], input="long enough pw\nlong enough pw\n"
    )
    assert again.exit_code != 0 and "exists" in again.output
    short = CliRunner().invoke(main, ["admin", "create-user", "joon"], input="short\nshort\n")
    assert short.exit_code != 0 and "at least" in short.output
