"""The desk's issue report after retention removed the issue's raw events and ledger: the same tables."""

from __future__ import annotations

from mailer.events.retention import run_prune
from tests.events.test_retention import _age, _sent_issue, _with_events


def test_the_desk_report_page_shows_the_pruned_issue(
    admin, session, ingested, subscribers_by_lang, runtime
):
    issue = _sent_issue(session, runtime)
    _with_events(session, issue)
    links = f"/admin/issues/{issue.number}/report.csv?table=links&lang=en"
    editions = f"/admin/issues/{issue.number}/report.csv?table=editions&lang=en"
    before = admin.get(links).text, admin.get(editions).text
    assert "https://news.example.com/a" in before[0] and "Korean edition" in before[1]
    _age(session, issue, 100)
    assert run_prune(runtime).deliveries == 9
    page = admin.get(f"/admin/issues/{issue.number}/report?lang=en")
    assert page.status_code == 200 and page.text.count("<svg") == 2
    assert (admin.get(links).text, admin.get(editions).text) == before
