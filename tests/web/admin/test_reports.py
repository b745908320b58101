"""Live progress JSON, the issue report and the trend page checked against the
database, their CSV tables, the warnings, and the reader's preview (inbox line, full size, dark mode)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import distinct, func, select

from mailer.db import utcnow
from mailer.delivery.facade import send_now
from mailer.delivery.models import Delivery
from mailer.events.apply import apply_pending
from mailer.events.models import WebhookEvent
from mailer.events.store import store
from mailer.issues.models import Edition
from mailer.issues.service import draft_issue


def _event(kind, d, at, n=0, **extra):
    return {
        "event": kind,
        "email": d.email,
        "timestamp": int(at.timestamp()),
        "sg_event_id": f"{kind}-{d.id}-{n}",
        "issue_id": str(d.issue_id),
        "delivery_id": str(d.id),
        **extra,
    }


def _sent_with_events(session, runtime):
    issue = draft_issue(session, utcnow(), runtime.settings)
    session.commit()
    send_now(runtime, issue.number)
    session.expire_all()
    rows = session.execute(
        select(Delivery, Edition)
        .join(Edition, Edition.id == Delivery.edition_id)
        .order_by(Delivery.id)
    ).all()
    ko = [d for d, e in rows if e.lang == "ko"]
    en = [d for d, e in rows if e.lang == "en"]
    start = {e.lang: e.started_at for _, e in rows}
    events = [_event("delivered", d, start["ko"]) for d in ko + en]
    # ko: opens in hours 0 and 5 (one reader twice), clicks on two links; en: a bounce and a complaint
    events += [
        _event("open", ko[0], start["ko"] + timedelta(minutes=10), 1),
        _event("open", ko[0], start["ko"] + timedelta(hours=5, minutes=1), 2),
        _event("open", ko[1], start["ko"] + timedelta(hours=5, minutes=30)),
        # a proxy fetching every mail (sg_machine_open): no reader's open, in no rate or chart
        _event("open", ko[3], start["ko"] + timedelta(minutes=1), 1, sg_machine_open=True),
        _event(
            "click",
            ko[1],
            start["ko"] + timedelta(hours=5, minutes=31),
            url="https://news.example.com/a",
        ),
        _event("click", ko[2], start["ko"] + timedelta(hours=6), url="https://news.example.com/a"),
        _event(
            "click",
            ko[2],
            start["ko"] + timedelta(hours=6, minutes=1),
            2,
            url="https://news.example.com/b",
        ),
    ]
    events += [
        _event("bounce", en[0], start["en"]),
        _event("spamreport", en[1], start["en"]),
        _event("unsubscribe", en[2], start["en"]),
    ]
    store(session, events, utcnow())
    apply_pending(session, utcnow(), runtime.settings)
    session.commit()
    return issue


def _csv(response):
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))


def test_the_report_shows_rates_links_and_charts_as_the_database_counts_them(
    admin, session, ingested, subscribers_by_lang, runtime
):
    issue = _sent_with_events(session, runtime)
    page = admin.get(f"/admin/issues/{issue.number}/report?lang=en")
    assert page.status_code == 200

    # the database's own counts, by edition
    def count(lang, kind):
        return session.scalar(
            select(func.count(distinct(WebhookEvent.delivery_id)))
            .join(Delivery, Delivery.id == WebhookEvent.delivery_id)
            .join(Edition, Edition.id == Delivery.edition_id)
            .where(Edition.lang == lang, WebhookEvent.event == kind)
        )

    ko_delivered, ko_opened, ko_clicked = (
        count("ko", "delivered"),
        count("ko", "open"),
        count("ko", "click"),
    )
    assert (ko_delivered, ko_opened, ko_clicked) == (4, 2, 2)
    rows = {
        r[0]: r
        for r in _csv(admin.get(f"/admin/issues/{issue.number}/report.csv?table=editions&lang=en"))
    }
    header = rows.pop("Edition")
    assert header[1:] == [
        "Sent",
        "Delivered",
        "Bounce rate",
        "Complaint rate",
        "Open rate",
        "Click rate",
        "Unsubscribes",
        "Machine opens",
    ]
    ko = rows["Korean edition"]
    assert ko[8] == "1"  # the proxy's open, apart from the readers' (the open rate)
    assert (
        ko[1] == "4"
        and ko[5] == f"{ko_opened / ko_delivered:.4f}"
        and ko[6] == f"{ko_clicked / ko_delivered:.4f}"
    )
    en = rows["English edition"]
    assert (
        en[3] == f"{count('en', 'bounce') / 3:.4f}"
        and en[4] == f"{count('en', 'spamreport') / 3:.4f}"
    )
    assert en[7] == "1" and rows["Whole issue"][1] == "9"
    # as percentages on the page, with the warnings standing out (1/3 complaints > 0.1%, 1/3 bounces > 2%)
    assert "50.00%" in page.text and "33.33%" in page.text
    assert (
        page.text.count('class="warning"') >= 2
        and "English edition: complaint rate 33.33%" in page.text
    )
    # most-clicked links, counted per reader
    links = _csv(admin.get(f"/admin/issues/{issue.number}/report.csv?table=links&lang=en"))
    assert links[1:] == [
        ["Korean edition", "https://news.example.com/a", "2"],
        ["Korean edition", "https://news.example.com/b", "1"],
    ]
    # two inline SVG charts (opens, clicks) with a line per edition, hours 0 and 5 holding the opens
    assert page.text.count("<svg") == 2 and 'class="series series-ko"' in page.text
    from mailer.events.reports import hourly

    series = hourly(session, issue)
    assert (
        series["ko"]["open"][0] == 1
        and series["ko"]["open"][5] == 2
        and sum(series["ko"]["click"]) == 3
    )
    assert sum(series["en"]["open"]) == 0
    # Korean page: the same figures, Korean labels; an unknown table is refused in the page's language
    ko_page = admin.get(f"/admin/issues/{issue.number}/report?lang=ko")
    assert "스팸 신고율" in ko_page.text and "Complaint" not in ko_page.text
    refused = admin.get(f"/admin/issues/{issue.number}/report.csv?table=nope&lang=ko")
    assert refused.status_code == 404 and refused.text == "그런 표는 없습니다."


def test_no_warning_below_the_limits(admin, session, issue):
    from mailer.events.reports import Figures

    assert Figures(sent=10_000, delivered=10_000, complained=10, bounced=200).warnings == []
    assert Figures(sent=10_000, delivered=10_000, complained=11, bounced=201).warnings == [
        "complaints",
        "bounces",
    ]
    page = admin.get(f"/admin/issues/{issue.number}/report?lang=en")
    assert (
        page.status_code == 200
        and 'class="warning"' not in page.text
        and "not been sent" in page.text
    )


def test_the_trend_page_compares_issues_and_counts_growth_by_week(
    admin, session, ingested, subscribers_by_lang, runtime
):
    from subscribers.models import Change

    issue = _sent_with_events(session, runtime)
    page = admin.get("/admin/reports?lang=en")
    assert page.status_code == 200 and f"Issue #{issue.number}" in page.text
    assert f"Issue #{issue.number}: complaint rate" in page.text  # 1 of 9 delivered
    issues = _csv(admin.get("/admin/reports.csv?table=issues&lang=en"))
    assert issues[1][0] == f"Issue #{issue.number}" and issues[1][2] == "9"
    growth = _csv(admin.get("/admin/reports.csv?table=growth&lang=en"))
    assert growth[0] == [
        "Week of",
        "Language",
        "Sign-ups",
        "Confirmations",
        "Imports",
        "Unsubscribes",
        "Bounces",
    ]
    this_week = {r[1]: r for r in growth[1:] if r[0] == growth[1][0]}  # newest first
    added = dict(session.execute(select(Change.action, func.count()).group_by(Change.action)).all())
    signups = sum(int(r[2]) for r in this_week.values())
    assert signups == added["added"] == 11  # 9 active, the pending one, the one who left
    assert sum(int(r[3]) for r in this_week.values()) == 10  # added active
    assert sum(int(r[4]) for r in this_week.values()) == 0  # nobody imported
    assert this_week["English edition"][5] == "2"  # gone@ and the webhook's unsubscribe
    assert this_week["English edition"][6] == "1"  # the bounce
    # no empty weeks: only this week had changes, one row per language (it was 12 weeks x 3 of zeros)
    assert len(growth) == 1 + 3 and {r[0] for r in growth[1:]} == {growth[1][0]}
    # charts drawn on the server: a rate chart each (a bar per issue), growth per language, tables folded
    assert page.text.count('<svg class="chart bars"') == 5 + 3
    assert page.text.count('class="bar bar-opened"') == 1 and "bar bar-unsubscribes" in page.text
    assert page.text.count("<details>") == 2 and 'id="table-growth"' in page.text
    assert 'class="limit"' in page.text  # the complaint and bounce limits drawn


def test_progress_json_has_a_bar_per_edition_and_the_issue(
    admin, session, ingested, subscribers_by_lang, settings, runtime
):
    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    before = admin.get(f"/admin/issues/{issue.number}/progress?lang=en").json()
    assert before["live"] is False and before["bars"][0]["max"] == 0
    send_now(runtime, issue.number)
    data = admin.get(f"/admin/issues/{issue.number}/progress?lang=en").json()
    bars = {b["key"]: b for b in data["bars"]}
    assert list(bars) == ["issue", "ko", "en", "both"]
    assert (bars["issue"]["value"], bars["issue"]["max"]) == (9, 9) and bars["ko"]["max"] == 4
    assert bars["issue"]["fields"]["sent"] == "9" and bars["issue"]["fields"]["percent"] == "100%"
    assert data["fields"]["state"] == "Sent"
    page = admin.get(f"/admin/issues/{issue.number}?lang=ko")
    assert 'progress data-bar="issue"' in page.text and 'aria-valuenow="9"' in page.text
    assert '<script src="/admin/static/progress.js"' in page.text and "발송됨" in page.text
    script = admin.get("/admin/static/progress.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    assert admin.get("/admin/static/other.js").status_code == 404


def test_the_dashboard_shows_every_issue_sending(
    admin, session, ingested, subscribers_by_lang, settings
):
    from tests.factories import start_send

    issue = draft_issue(session, utcnow(), settings)
    session.commit()
    start_send(session, issue, settings, utcnow())
    session.commit()
    page = admin.get("/admin?lang=en")
    assert (
        'id="sending-now"' in page.text
        and f'data-progress-src="/admin/issues/{issue.number}/progress"' in page.text
    )
    assert 'data-live="yes"' in page.text and "Time left" in page.text


def test_the_preview_shows_the_inbox_line_full_size_and_dark_mode(admin, session, issue, settings):
    page = admin.get(f"/admin/issues/{issue.number}?lang=en").text
    ko = next(e for e in issue.editions if e.lang == "ko")
    inbox = page[page.index('<div class="inbox" id="inbox-ko" data-lang="ko">') :]
    inbox = inbox[: inbox.index("</div>\n</div>") if "</div>\n</div>" in inbox else 2000]
    assert (
        settings.from_name("ko") in inbox and ko.subject in inbox and settings.from_email in inbox
    )
    assert (ko.preheader or "") in inbox and "As it shows in the inbox" in page
    assert (
        f'class="full-size" href="/admin/issues/{issue.number}/preview/ko" target="_blank"' in page
    )
    assert (
        f'data-src="/admin/issues/{issue.number}/preview/ko/dark?fit=1"' in page
    )  # its tab's view
    dark = admin.get(f"/admin/issues/{issue.number}/preview/ko/dark")
    assert dark.status_code == 200 and "<html data-ogsc data-ogsb" in dark.text
    assert "frame-ancestors 'self'" in dark.headers["content-security-policy"]
    assert admin.get(f"/admin/issues/{issue.number}/preview/xx/dark").status_code == 404


def test_the_trend_page_lists_issues_and_weeks_newest_first(
    admin, session, ingested, subscribers_by_lang, runtime
):
    """Sign-ups this week and three weeks ago: charts and tables start from the newest, and the empty
    weeks between are left out."""
    from subscribers import service
    from subscribers.models import Change

    _sent_with_events(session, runtime)
    reader, _ = service.add(session, "old@example.com", "en", confirmed=True)
    session.flush()
    for change in session.query(Change).filter(Change.subscriber_id == reader.id):
        change.at = utcnow() - timedelta(weeks=3)
    session.commit()
    page = admin.get("/admin/reports?lang=ko")
    assert page.status_code == 200 and "Sign-ups" not in page.text and "가입 신청" in page.text
    growth = _csv(admin.get("/admin/reports.csv?table=growth&lang=en"))
    weeks = [r[0] for r in growth[1:]]
    assert weeks == sorted(weeks, reverse=True) and len(set(weeks)) == 2  # no week of zeros between
    english = page.text.index("영어판")
    # the English edition's chart: this week's bars above the week three weeks ago
    assert page.text.index(weeks[0], english) < page.text.index(weeks[-1], english)
