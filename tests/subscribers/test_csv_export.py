"""CSV export against formula injection: a cell a spreadsheet would run is written as text,
and import reads it back as it was."""

from __future__ import annotations

import csv
import io

from click.testing import CliRunner
from sqlalchemy import delete, select

from mailer.cli import main
from mailer.db import utcnow
from subscribers import service
from subscribers.csv_export import csv_lines, write_csv
from subscribers.csv_import import import_rows, read_rows
from subscribers.models import Subscriber

HOSTILE = ["=cmd|'/ccalc'!a0@example.org", "+1@example.org", "-x@example.org"]


def _cells(text: str) -> list[str]:
    return [row[0] for row in csv.reader(io.StringIO(text))][1:]


def _add_hostile(session):
    for address in HOSTILE:
        service.add(
            session, address, "en", source="web"
        )  # an anonymous sign-up: pending, as the form leaves it
    service.add(session, "plain@example.org", "ko", confirmed=True)
    session.commit()


def test_a_cell_that_starts_a_formula_is_exported_as_text(session):
    _add_hostile(session)
    out = io.StringIO()
    write_csv(session, out)
    assert _cells(out.getvalue()) == ["'" + a for a in HOSTILE] + ["plain@example.org"]
    assert _cells("".join(csv_lines(session))) == _cells(
        out.getvalue()
    )  # the admin's export, streamed


def test_the_command_exports_them_as_text_too(session, tmp_path):
    _add_hostile(session)
    result = CliRunner().invoke(main, ["subscribers", "export", "-"])
    assert result.exit_code == 0
    assert _cells(result.stdout) == ["'" + a for a in HOSTILE] + ["plain@example.org"]


def test_an_export_imports_back_as_it_was(session):
    _add_hostile(session)
    out = io.StringIO()
    write_csv(session, out)
    before = sorted(session.scalars(select(Subscriber.email)))
    session.execute(delete(Subscriber))
    session.commit()
    import_rows(session, read_rows(io.StringIO(out.getvalue())), now=utcnow())
    assert sorted(session.scalars(select(Subscriber.email))) == before
