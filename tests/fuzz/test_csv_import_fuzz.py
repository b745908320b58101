"""CSV import under arbitrary rows: never a crash; bad rows reported with their line, good rows imported."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from mailer.db import utcnow
from subscribers.csv_import import BadRow, CsvError, Row, import_rows, read_rows
from subscribers.models import Subscriber

pytestmark = pytest.mark.slow

FAST = hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

good_rows = st.builds(
    lambda local, lang, status: {"email": f"{local}@fuzz.example", "lang": lang, "status": status},
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12),
    st.sampled_from(["ko", "en", "both", "KO", " en "]),
    st.sampled_from(["", "active", "pending", "unsubscribed"]),
)
junk = st.text(max_size=30)
bad_rows = st.fixed_dictionaries({"email": junk, "lang": junk, "status": junk})
rows = st.lists(st.tuples(st.booleans(), good_rows, bad_rows), max_size=25)


def _csv(dict_rows) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=["email", "lang", "status"])
    w.writeheader()
    w.writerows(dict_rows)
    return out.getvalue()


@FAST
@given(text=st.text(max_size=400))
def test_arbitrary_text_never_crashes(session, text):
    try:
        parsed = list(read_rows(io.StringIO(text, newline="")))
    except CsvError:
        return
    for row in parsed:
        assert isinstance(row, Row | BadRow) and row.line >= 2
    report = import_rows(session, parsed, now=utcnow())
    assert report.rows == len(parsed)
    session.execute(delete(Subscriber))
    session.commit()


@FAST
@given(mixed=rows)
def test_bad_rows_are_reported_by_line_and_good_ones_imported(session, mixed):
    chosen = [good if use_good else bad for use_good, good, bad in mixed]
    parsed = list(read_rows(io.StringIO(_csv(chosen), newline="")))
    assert len(parsed) == len(chosen)
    bad_lines = []
    report = import_rows(
        session, parsed, now=utcnow(), on_bad_row=lambda b: bad_lines.append(b.line)
    )
    good = [r for r in parsed if isinstance(r, Row)]
    # a row that csv wrote over several physical lines still starts at or after its logical position
    assert all(b >= i + 2 for i, b in enumerate(sorted(bad_lines)))
    assert sorted(bad_lines) == bad_lines
    assert report.bad == len(bad_lines) == len(parsed) - len(good)
    emails = {r.email for r in good}
    on_file = set(session.scalars(select(Subscriber.email)))
    assert on_file == emails
    assert report.added == len(emails)
    for use_good, g, _ in mixed:  # every generated good row survives, normalized
        if use_good:
            assert g["email"].lower() in on_file
    session.execute(delete(Subscriber))
    session.commit()
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 0
