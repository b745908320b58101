"""CSV import and export: streamed, bad rows by line, idempotent, nobody brought back."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select

from mailer.db import utcnow
from subscribers import service
from subscribers.csv_export import COLUMNS, write_csv
from subscribers.csv_import import BadRow, CsvError, Row, import_rows, parse_row, read_rows, text_of
from subscribers.models import Status, Subscriber
from subscribers.suppression import suppress

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def _import(session, text: str, **kw):
    bad: list[BadRow] = []
    report = import_rows(
        session, read_rows(io.StringIO(text)), now=NOW, on_bad_row=bad.append, **kw
    )
    return report, bad


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(Subscriber))


def test_parse_row_checks_every_field():
    assert parse_row({"email": " Ko@Example.com ", "lang": "KO"}, 2) == Row(
        2, "ko@example.com", "ko", "active", None
    )
    row = parse_row(
        {
            "email": "a@example.com",
            "lang": "both",
            "status": "Unsubscribed",
            "created_at": "2024-03-01T10:00:00+09:00",
        },
        3,
    )
    assert row.status == "unsubscribed" and row.created_at == datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
    assert (
        parse_row(
            {"email": "a@example.com", "lang": "en", "created_at": "2024-03-01"}, 4
        ).created_at.tzinfo
        is UTC
    )
    for raw, reason in [
        ({"email": "", "lang": "ko"}, "email is empty"),
        ({"email": "nope", "lang": "ko"}, "not a valid email address"),
        ({"email": "a@example.com", "lang": "jp"}, "lang must be one of"),
        ({"email": "a@example.com", "lang": "ko", "status": "vip"}, "status must be one of"),
        (
            {"email": "a@example.com", "lang": "ko", "created_at": "yesterday"},
            "not an ISO 8601 date",
        ),
        ({"email": None, "lang": None}, "email is empty"),  # a short row
    ]:
        bad = parse_row(raw, 9)
        assert isinstance(bad, BadRow) and bad.line == 9 and reason in bad.reason


def test_a_few_hundred_rows_with_bad_ones_reported_by_line(session):
    lines = ["email,lang"]
    for i in range(300):
        lines.append(f"user{i}@example.com,{('ko', 'en', 'both')[i % 3]}")
    lines[51] = "broken-address,ko"  # file line 52
    lines[101] = "user100@example.com,fr"  # file line 102
    report, bad = _import(session, "\n".join(lines) + "\n", chunk_rows=64)
    assert [(b.line, b.reason.split(":")[0]) for b in bad] == [
        (52, "'broken-address' is not a valid email address"),
        (102, "lang must be one of ko, en, both, not 'fr'"),
    ]
    assert (report.added, report.existing, report.suppressed, report.bad) == (298, 0, 0, 2)
    assert _count(session) == 298
    sub = service.get_by_email(session, "user2@example.com")
    assert (sub.lang, sub.status, sub.consent_source, sub.confirmed_at) == (
        "both",
        "active",
        "import",
        NOW,
    )


def test_line_numbers_are_lines_of_the_file_not_rows(session):
    text = 'email,lang\n"a@example.com",ko\n\n"multi\nline@example.com",ko\nc@example.com,xx\n'
    _, bad = _import(session, text)
    assert [b.line for b in bad] == [
        4,
        6,
    ]  # where each bad row starts, blank and spanned lines counted


def test_importing_again_adds_nothing_and_changes_nobody(session):
    text = (
        "email,lang,status\na@example.com,ko,\nb@example.com,en,unsubscribed\nA@EXAMPLE.COM,en,\n"
    )
    first, _ = _import(session, text)
    assert (first.added, first.existing) == (2, 1)  # the repeat within the file
    session.expire_all()
    before = {
        s.email: (s.lang, s.status, s.updated_at) for s in session.scalars(select(Subscriber))
    }
    second, _ = _import(session, text)
    assert (second.added, second.existing) == (0, 3)
    session.expire_all()
    assert {
        s.email: (s.lang, s.status, s.updated_at) for s in session.scalars(select(Subscriber))
    } == before


def test_nobody_unsubscribed_or_suppressed_comes_back(session):
    gone, _ = service.add(session, "gone@example.com", "ko", confirmed=True)
    service.unsubscribe(session, gone.id)
    bounced, _ = service.add(session, "bounced@example.com", "ko", confirmed=True)
    service.mark_suppressed(session, bounced.id, Status.BOUNCED)
    complained, _ = service.add(session, "complained@example.com", "ko", confirmed=True)
    service.mark_suppressed(session, complained.id, Status.COMPLAINED)
    service.add(session, "erased@example.com", "ko", confirmed=True)
    service.erase(session, "erased@example.com")
    suppress(session, "bounced-long-ago@example.com", "bounced")
    session.commit()
    text = "email,lang,status\n" + "".join(
        f"{who}@example.com,en,active\n"
        for who in ("gone", "bounced", "complained", "erased", "bounced-long-ago", "fresh")
    )
    report, _ = _import(session, text)
    # bounced and complained readers on file are blocked, as the suppression list's addresses are
    assert (report.added, report.existing, report.suppressed) == (1, 1, 4)
    again, _ = _import(session, text)  # a re-import counts them the same way
    assert (again.added, again.existing, again.suppressed) == (0, 2, 4)
    session.expire_all()
    assert {s.email: s.status for s in session.scalars(select(Subscriber))} == {
        "gone@example.com": "unsubscribed",
        "bounced@example.com": "bounced",
        "complained@example.com": "complained",
        "fresh@example.com": "active",
    }
    assert service.get_by_email(session, "gone@example.com").lang == "ko"


def test_status_and_created_at_columns_are_honoured(session):
    text = (
        "lang,email,created_at,status,extra\n"  # any order; unknown columns ignored
        "ko,old@example.com,2020-01-02T03:04:05Z,,x\n"
        "en,left@example.com,,unsubscribed,y\n"
        "en,waiting@example.com,,pending,z\n"
    )
    _import(session, text)
    old = service.get_by_email(session, "old@example.com")
    assert (
        old.created_at
        == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
        == old.consent_at
        == old.confirmed_at
    )
    assert service.get_by_email(session, "left@example.com").unsubscribed_at == NOW
    assert service.get_by_email(session, "waiting@example.com").status == Status.PENDING


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("address,language\nx@example.com,ko\n", "no email or lang column"),
        ("email\nx@example.com\n", "no lang column"),
    ],
)
def test_a_file_without_the_needed_header_is_refused_whole(session, text, message):
    with pytest.raises(CsvError, match=message):
        _import(session, text)
    assert _count(session) == 0


def test_a_byte_order_mark_and_crlf_lines_are_fine(session):
    raw = "\ufeffEmail,Lang\r\nbom@example.com,ko\r\n".encode()
    report = import_rows(session, read_rows(text_of(io.BytesIO(raw))), now=NOW)
    assert report.added == 1


def test_rows_are_read_as_they_are_imported_and_committed_in_chunks(session, runtime):
    consumed = 0

    def rows():
        nonlocal consumed
        for i in range(250):
            consumed += 1
            yield Row(i + 2, f"s{i}@example.com", "ko", "active", None)

    seen = []

    def on_chunk(report):
        # Never more than a chunk read ahead of what is stored; earlier chunks are committed.
        assert consumed - report.rows <= 100
        with runtime.sessions() as other:
            seen.append(other.scalar(select(func.count()).select_from(Subscriber)))

    import_rows(session, rows(), now=NOW, chunk_rows=100, on_chunk=on_chunk)
    assert seen == [100, 200, 250]


def test_a_crash_midway_keeps_the_chunks_before_it_and_a_rerun_finishes(session):
    def rows(fail_at):
        for i in range(120):
            if i == fail_at:
                raise RuntimeError("disk unplugged")
            yield Row(i + 2, f"c{i}@example.com", "en", "active", None)

    with pytest.raises(RuntimeError):
        import_rows(session, rows(fail_at=70), now=NOW, chunk_rows=50)
    session.rollback()
    assert _count(session) == 50
    report = import_rows(session, rows(fail_at=None), now=NOW, chunk_rows=50)
    assert (report.added, report.existing, _count(session)) == (70, 50, 120)


def test_an_unreadable_csv_stops_with_its_line(session):
    text = 'email,lang\na@example.com,ko\n"unterminated,ko\n'
    import csv

    csv.field_size_limit(64)  # make the runaway quote fail fast
    try:
        with pytest.raises(CsvError, match="line"):
            _import(session, text + "x" * 100 + "\n")
    finally:
        csv.field_size_limit(131072)


def test_export_streams_every_subscriber_and_imports_back_unchanged(session):
    service.add(session, "k@example.com", "ko", confirmed=True)
    gone, _ = service.add(session, "u@example.com", "en", confirmed=True)
    service.unsubscribe(session, gone.id)
    service.add(session, "p@example.com", "both")
    session.commit()
    out = io.StringIO()
    assert write_csv(session, out) == 3
    lines = out.getvalue().splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 4
    only_active = io.StringIO()
    assert (
        write_csv(session, only_active, status="active") == 1
        and "k@example.com" in only_active.getvalue()
    )

    before = {s.email: (s.lang, s.status) for s in session.scalars(select(Subscriber))}
    for sub in session.scalars(select(Subscriber)):
        session.delete(sub)
    session.commit()
    _import(session, out.getvalue())
    session.expire_all()
    assert {s.email: (s.lang, s.status) for s in session.scalars(select(Subscriber))} == before


def test_now_is_utc():
    assert utcnow().tzinfo is UTC


def test_export_comes_a_page_of_rows_at_a_time(session, monkeypatch):
    from subscribers import csv_export

    for i in range(5):
        service.add(session, f"page{i}@example.com", "ko", confirmed=True)
    session.commit()
    monkeypatch.setattr(csv_export, "PAGE_ROWS", 2)
    chunks = list(csv_export.csv_lines(session))
    assert [c.count("\n") for c in chunks] == [
        1,
        2,
        2,
        1,
    ]  # the header, then pages of at most 2 rows
    assert "".join(chunks).splitlines()[1:] == [line for c in chunks[1:] for line in c.splitlines()]
    assert list(csv_export.csv_lines(session, status="unsubscribed")) == [",".join(COLUMNS) + "\n"]


class _Endless(io.RawIOBase):
    """A file that never ends and never has a newline, counting what is read from it."""

    def __init__(self, byte: bytes):
        self.byte, self.read_bytes = byte, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        buffer[:] = self.byte * len(buffer)
        self.read_bytes += len(buffer)
        return len(buffer)


@pytest.mark.parametrize(("byte", "code"), [(b"a", "line_too_long"), (b"\0", "line_too_long")])
def test_a_line_without_end_is_refused_after_64_kib_not_read_to_its_end(session, byte, code):
    endless = _Endless(byte)
    with pytest.raises(CsvError, match="line 1 is longer than 65536 characters") as refused:
        import_rows(session, read_rows(text_of(endless)), now=NOW)
    assert refused.value.code == code and refused.value.params == {"line": 1, "limit": 65536}
    assert endless.read_bytes < 1024 * 1024  # stopped near the limit, not at the end of memory


def test_nul_bytes_and_a_quote_left_open_name_their_line(session):
    with pytest.raises(CsvError, match="line 1 holds NUL bytes") as nul:
        _import(session, "em\0ail,lang\na@example.com,ko\n")
    assert nul.value.code == "nul"
    report, bad = _import(session, "email,lang\na@example.com,ko\nb\0@example.com,ko\n")
    assert report.added == 1 and [b.line for b in bad] == [3]  # a row, not the file, is bad
    session.execute(delete(Subscriber))
    session.commit()
    runaway = 'email,lang\na@example.com,ko\n"open,ko\n' + "short line,en\n" * 20_000
    with pytest.raises(CsvError, match=r"line \d+: a row longer than 131072") as open_quote:
        _import(session, runaway)
    assert open_quote.value.code == "record_too_long"
    assert _count(session) == 0  # the good row before it waits in the uncommitted chunk


def test_a_long_value_is_quoted_cut_in_its_reason(session):
    _, bad = _import(session, "email,lang\n" + "a" * 5000 + "@example.com,ko\n")
    assert len(bad) == 1 and len(bad[0].reason) < 200 and "…" in bad[0].reason


def test_each_reader_added_gets_a_history_row_and_the_consent_named(session):
    from subscribers.csv_import import ImportOptions
    from subscribers.models import Change

    text = "email,lang,status\na@example.com,ko,\nb@example.com,en,unsubscribed\n"
    service.add(session, "known@example.com", "ko", confirmed=True)
    session.commit()
    report, _ = _import(
        session,
        text + "known@example.com,ko,\n",
        options=ImportOptions("confirmed", "  Book fair   sign-up sheet "),
    )
    assert (report.added, report.existing) == (2, 1)
    a = service.get_by_email(session, "a@example.com")
    assert (a.status, a.consent_source, a.consent_detail) == (
        "active",
        "import",
        "Book fair sign-up sheet",
    )
    history = session.execute(
        select(Subscriber.email, Change.action, Change.source, Change.detail)
        .join(Change, Change.subscriber_id == Subscriber.id)
        .where(Change.source == "import")
        .order_by(Subscriber.email)
    ).all()
    assert [(e, act, src) for e, act, src, _ in history] == [
        ("a@example.com", "added", "import"),
        ("b@example.com", "added", "import"),
    ]
    assert '"status":"unsubscribed"' in history[1][3]


def test_confirm_by_mail_adds_pending_readers_and_hands_them_over(session):
    from subscribers.csv_import import ImportOptions

    handed = []
    text = "email,lang,status\na@example.com,ko,\nb@example.com,both,active\nc@example.com,en,unsubscribed\n"
    report, _ = _import(
        session,
        text,
        options=ImportOptions("confirm_by_mail"),
        on_added=lambda s, added: handed.extend(added),
    )
    assert report.added == 3
    session.expire_all()
    by_email = {s.email: s for s in session.scalars(select(Subscriber))}
    assert by_email["a@example.com"].status == "pending"
    assert by_email["a@example.com"].confirmed_at is None
    assert by_email["a@example.com"].consent_at is None
    assert by_email["c@example.com"].status == "unsubscribed"  # what the file says of one who left
    assert sorted((a.lang, a.status) for a in handed) == [
        ("both", "pending"),
        ("en", "unsubscribed"),
        ("ko", "pending"),
    ]


def test_an_unknown_mode_is_refused():
    from subscribers.csv_import import ImportOptions

    with pytest.raises(ValueError):
        ImportOptions("subscribed")
