"""`mailer subscribers ...` as an operator drives it: import, export, show --json, remove, erase."""

from __future__ import annotations

import csv
import io
import json
import stat

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from mailer.cli import main
from subscribers import lookup, service
from subscribers.models import Status, Subscriber


@pytest.fixture
def run(runtime, session):
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False, obj=runtime)

    return invoke


def _csv(tmp_path, text, name="list.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_add_sends_the_confirmation_mail_unless_confirmed(run, settings):
    from pathlib import Path

    added = run("subscribers", "add", "Pending@Example.com", "--lang", "both")
    assert added.exit_code == 0 and "added: pending@example.com (both, pending)" in added.stdout
    assert "confirmation email sent" in added.stdout
    [mail] = list((Path(settings.outbox_dir) / "confirm" / "both").glob("*.eml"))
    assert b"pending@example.com" in mail.read_bytes()
    assert (
        "confirmation email"
        not in run("subscribers", "add", "ok@example.com", "--lang", "ko", "--confirmed").stdout
    )


def test_import_reports_bad_lines_on_stderr_and_imports_the_rest(run, session, tmp_path):
    rows = ["email,lang,status"] + [
        f"r{i}@example.com,{'ko' if i % 2 else 'en'}," for i in range(200)
    ]
    rows[10] = "r9-broken,ko,"
    rows[20] = "r19@example.com,ko,maybe"
    path = _csv(tmp_path, "\n".join(rows) + "\n")
    errors = tmp_path / "errors.csv"
    result = run("subscribers", "import", path, "--errors", str(errors))
    assert result.exit_code == 1  # the good rows are in, but a script must learn that some were not
    assert (
        result.stdout.strip()
        == "imported 200 rows: 198 added, 0 already on file, 0 suppressed, 2 bad"
    )
    assert "line 11: 'r9-broken' is not a valid email address" in result.stderr
    assert "line 21: status must be one of" in result.stderr
    assert list(csv.reader(errors.open()))[1][0] == "11"
    again = run("subscribers", "import", path)
    assert "0 added, 198 already on file" in again.stdout  # idempotent
    clean = run(
        "subscribers", "import", _csv(tmp_path, "email,lang\nfine@example.com,ko\n", "clean.csv")
    )
    assert clean.exit_code == 0


def test_import_from_stdin_and_a_bad_header(run, tmp_path):
    result = run("subscribers", "import", "-", input="email,lang\nin@example.com,ko\n")
    assert result.exit_code == 0 and "1 added" in result.stdout
    bad = run("subscribers", "import", _csv(tmp_path, "mail,language\nx@example.com,ko\n"))
    assert bad.exit_code == 1 and bad.stderr.startswith(
        "error: the header row has no email or lang column"
    )
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("email,lang\nj\xf6rg@example.com,en\n".encode("latin-1"))
    refused = run("subscribers", "import", str(latin))
    assert refused.exit_code == 1 and "not UTF-8" in refused.stderr


def test_import_never_reactivates(run, session, tmp_path):
    run("subscribers", "add", "left@example.com", "--lang", "ko", "--confirmed")
    run("subscribers", "remove", "left@example.com")
    run("subscribers", "import", _csv(tmp_path, "email,lang,status\nleft@example.com,ko,active\n"))
    assert (
        json.loads(run("subscribers", "show", "left@example.com", "--json").stdout)["status"]
        == "unsubscribed"
    )


def test_export_to_stdout_is_csv_only_and_to_a_file_is_private(run, tmp_path):
    run("subscribers", "add", "a@example.com", "--lang", "ko", "--confirmed")
    run("subscribers", "add", "b@example.com", "--lang", "en", "--confirmed")
    out = run("subscribers", "export")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [(r["email"], r["lang"], r["status"]) for r in rows] == [
        ("a@example.com", "ko", "active"),
        ("b@example.com", "en", "active"),
    ]
    assert "exported 2 subscribers" in out.stderr
    target = tmp_path / "out.csv"
    assert run("subscribers", "export", str(target), "--status", "active").exit_code == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text().count("\n") == 3


def test_remove_keeps_the_record_and_refuses_the_unknown(run):
    run("subscribers", "add", "rm@example.com", "--lang", "ko", "--confirmed")
    result = run("subscribers", "remove", "rm@example.com")
    assert result.exit_code == 0 and "unsubscribed" in result.stdout
    missing = run("subscribers", "remove", "nobody@example.com")
    assert missing.exit_code == 1 and missing.stderr == "error: no subscriber nobody@example.com\n"


@pytest.fixture
def sent_to_reader(run, session, ingested, settings, runtime):
    """An issue sent to reader@example.com, and a provider event about them."""
    from mailer.db import utcnow
    from mailer.delivery.facade import send_now
    from mailer.events.models import WebhookEvent
    from mailer.issues.service import draft_issue

    service.add(session, "reader@example.com", "ko", confirmed=True, ip="192.0.2.10")
    service.add(session, "other@example.com", "en", confirmed=True)
    number = draft_issue(session, utcnow(), settings).number
    session.commit()
    send_now(runtime, number)
    session.add(
        WebhookEvent(
            sg_event_id="ev-1",
            event="open",
            email="Reader@Example.com",
            payload={
                "event": "open",
                "email": "Reader@Example.com",
                "ip": "198.51.100.77",
                "useragent": "Mail/1.0",
                "sg_event_id": "ev-1",
                "delivery_id": "1",
                "timestamp": 1764000000,
            },
        )
    )
    session.commit()
    return number


def test_show_json_is_everything_held_about_one_subscriber(run, sent_to_reader):
    data = json.loads(run("subscribers", "show", "READER@example.com", "--json").stdout)
    assert data["email"] == "reader@example.com" and data["consent_ip"] == "192.0.2.10"
    assert data["suppression"] is None
    assert [h["action"] for h in data["history"]] == ["added"]
    [delivery] = data["deliveries"]
    assert (delivery["issue"], delivery["edition"], delivery["status"]) == (
        sent_to_reader,
        "ko",
        "sent",
    )
    assert delivery["sent_at"] and delivery["email"] == "reader@example.com"
    [event] = data["events"]
    assert event["event"] == "open" and event["payload"]["ip"] == "198.51.100.77"
    text = run("subscribers", "show", "reader@example.com")
    assert "history" in text.stdout and f"issue #{sent_to_reader} [ko] sent" in text.stdout


def test_erase_forgets_the_person_keeps_the_counts_and_blocks_every_way_back(
    run, session, sent_to_reader, tmp_path
):
    from mailer.delivery.models import Delivery
    from mailer.delivery.stats import delivery_counts
    from mailer.events.models import WebhookEvent
    from mailer.issues.service import get_issue

    issue_id = get_issue(session, sent_to_reader).id
    counts_before = delivery_counts(session, issue_id)
    result = run("subscribers", "erase", "Reader@example.com")
    assert result.exit_code == 0 and "erased: reader@example.com" in result.stdout

    session.expire_all()
    assert service.get_by_email(session, "reader@example.com") is None
    assert delivery_counts(session, issue_id) == counts_before
    orphans = session.scalars(select(Delivery).where(Delivery.subscriber_id.is_(None))).all()
    assert len(orphans) == 1 and orphans[0].email is None
    assert session.scalar(
        select(Delivery.email).where(Delivery.email == "other@example.com")
    )  # others intact
    event = session.scalar(select(WebhookEvent))
    assert event.email is None and event.payload == {
        "event": "open",
        "sg_event_id": "ev-1",
        "delivery_id": "1",
        "timestamp": 1764000000,
    }

    shown = run("subscribers", "show", "reader@example.com", "--json")
    assert (
        shown.exit_code == 1 and shown.stdout == "" and "suppression list: erased" in shown.stderr
    )
    imported = run("subscribers", "import", _csv(tmp_path, "email,lang\nreader@example.com,ko\n"))
    assert "0 added, 0 already on file, 1 suppressed" in imported.stdout
    added = run("subscribers", "add", "reader@example.com", "--lang", "ko", "--confirmed")
    assert added.exit_code == 1 and "suppression list" in added.stderr
    assert service.get_by_email(session, "reader@example.com") is None


def test_erasing_an_unknown_address_still_lists_it(run, tmp_path):
    result = run("subscribers", "erase", "stranger@example.com")
    assert result.exit_code == 0 and "suppression list" in result.stdout
    imported = run("subscribers", "import", _csv(tmp_path, "email,lang\nstranger@example.com,en\n"))
    assert "1 suppressed" in imported.stdout


def test_bad_addresses_are_one_line_errors(run):
    for command in (("erase", "not-an-address"), ("remove", "x@"), ("show", "@example.com")):
        result = run("subscribers", *command)
        assert result.exit_code == 1 and result.stderr.count("\n") == 1


def test_a_bounced_subscriber_stays_bounced_after_erase_and_add(run, session):
    sub, _ = service.add(session, "bounce@example.com", "ko", confirmed=True)
    service.mark_suppressed(session, sub.id, Status.BOUNCED)
    session.commit()
    run("subscribers", "erase", "bounce@example.com")
    assert lookup.suppression_reason(session, "bounce@example.com") == "bounced"


def test_an_import_that_stops_midway_says_truly_what_was_imported(run, session, tmp_path):
    nothing = tmp_path / "nothing.csv"  # the bad byte comes before the first chunk is committed
    nothing.write_bytes("email,lang\nj\xf6rg@example.com,en\n".encode("latin-1"))
    refused = run("subscribers", "import", str(nothing))
    assert refused.exit_code == 1 and "not UTF-8" in refused.stderr
    assert "nothing was imported" in refused.stderr and "rows before" not in refused.stderr
    some = (
        tmp_path / "some.csv"
    )  # a first chunk (1,000 rows) committed, then blank lines, then the bad byte
    good = "".join(f"g{i}@example.com,en\n" for i in range(1000)).encode()
    some.write_bytes(
        b"email,lang\n" + good + b"\n" * 70_000 + "j\xf6rg@example.com,en\n".encode("latin-1")
    )
    refused = run("subscribers", "import", str(some))
    assert (
        refused.exit_code == 1
        and "the first 1000 rows were imported (1000 added)" in refused.stderr
    )
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 1000


def _hostile(tmp_path, kind: str) -> str:
    path = tmp_path / f"{kind}.csv"
    contents = {
        "binary": bytes(range(256)) * 64,
        "all-nul": b"\0" * 200_000,  # one "line" past every limit, as a disk image would be
        "nul-in-header": b"email\0,lang\nx@example.com,ko\n",
        "utf-16-no-bom": "email,lang\nx@example.com,ko\n".encode("utf-16-le"),
        "utf-16-cut": b"\xff\xfee\0m\0a",  # a byte-order mark, then half a character
        "long-line": b"email,lang\n" + b"a" * 70_000 + b"@example.com,ko\n",
        "open-quote": b'email,lang\n"never closed,ko\n' + b"x,ko\n" * 40_000,
        "empty": b"",
        "no-columns": b"name,phone\nJun,010\n",
    }
    if kind == "directory":
        path.mkdir()
    elif kind != "missing":
        path.write_bytes(contents[kind])
    return str(path)


@pytest.mark.parametrize(
    "kind",
    [
        "binary",
        "all-nul",
        "nul-in-header",
        "utf-16-no-bom",
        "utf-16-cut",
        "long-line",
        "open-quote",
        "empty",
        "no-columns",
        "directory",
        "missing",
    ],
)
def test_import_of_anything_but_a_subscriber_csv_is_one_line_and_imports_nothing(
    run, session, tmp_path, kind
):
    result = run("subscribers", "import", _hostile(tmp_path, kind))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "Traceback" not in result.output and len(result.stderr) < 300
    assert "nothing was imported" in result.stderr
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_import_names_the_line_that_is_too_long_or_holds_nul_bytes(run, tmp_path):
    long = run("subscribers", "import", _hostile(tmp_path, "long-line"))
    assert "line 2 is longer than 65536 characters" in long.stderr
    nul = run("subscribers", "import", _hostile(tmp_path, "all-nul"))
    assert "line 1" in nul.stderr


def test_import_reads_utf_16_with_a_byte_order_mark(run, session, tmp_path):
    path = tmp_path / "unicode.csv"  # what Excel's "Unicode text" and some exports write
    path.write_bytes("email,lang\n김@example.com,ko\n".encode("utf-16"))
    result = run("subscribers", "import", str(path))
    assert result.exit_code == 0 and "1 added" in result.stdout
    assert service.get_by_email(session, "김@example.com") is not None


def test_import_names_the_consent_or_asks_each_reader_by_mail(run, session, tmp_path, settings):
    from pathlib import Path

    named = run(
        "subscribers",
        "import",
        _csv(tmp_path, "email,lang\na@example.com,ko\n"),
        "--consent",
        "Book fair sheet",
    )
    assert named.exit_code == 0 and "1 added" in named.stdout
    reader = service.get_by_email(session, "a@example.com")
    assert (reader.status, reader.consent_detail) == ("active", "Book fair sheet")

    mailed = run(
        "subscribers",
        "import",
        _csv(tmp_path, "email,lang\nb@example.com,en\nc@example.com,both\n", "b.csv"),
        "--confirm-by-mail",
    )
    assert mailed.exit_code == 0, mailed.output
    assert "2 added" in mailed.stdout and "2 confirmation mails queued" in mailed.stdout
    session.expire_all()
    assert service.get_by_email(session, "b@example.com").status == "pending"
    assert len(list(Path(settings.outbox_dir).rglob("*.eml"))) == 2

    both = CliRunner().invoke(
        main,
        [
            "subscribers",
            "import",
            _csv(tmp_path, "email,lang\n"),
            "--consent",
            "x",
            "--confirm-by-mail",
        ],
    )
    assert both.exit_code == 2 and "exclude each other" in both.output


def test_a_reimport_counts_bounced_readers_as_suppressed(run, session, tmp_path):
    sub, _ = service.add(session, "bounced@example.com", "ko", confirmed=True)
    service.mark_suppressed(session, sub.id, Status.BOUNCED)
    session.commit()
    again = run("subscribers", "import", _csv(tmp_path, "email,lang\nbounced@example.com,ko\n"))
    assert "0 added, 0 already on file, 1 suppressed" in again.stdout
