"""Bounces lead somewhere: the report's warnings link to the issue's bounces and complaints (address,
hard or soft, reason translated, date, edition); the suppression list says why, which issue and when;
a reader stopped by soft bounces can be re-enabled from the desk, a hard bounce or complaint cannot
(a hard-bounced reader may sign up again themselves; a complaint stays)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from mailer.db import utcnow
from mailer.delivery.facade import send_now
from mailer.delivery.models import Delivery
from mailer.events.apply import apply_pending
from mailer.events.store import store
from mailer.issues.models import Edition
from mailer.issues.service import draft_issue
from subscribers import service
from subscribers.models import Change, Status
from tests.web.conftest import csrf_of


def _event(kind, d, n=0, **extra):
    return {
        "event": kind,
        "email": d.email,
        "timestamp": int(utcnow().timestamp()) - 60,
        "sg_event_id": f"{kind}-{d.id}-{n}",
        "issue_id": str(d.issue_id),
        "delivery_id": str(d.id),
        **extra,
    }


def _bounced_issue(session, runtime):
    """An issue sent, with an en reader bounced hard, a ko one softly (limit 1: suppressed at once) and
    a both reader complaining. Returns the issue and the three deliveries."""
    issue = draft_issue(session, utcnow(), runtime.settings)
    session.commit()
    send_now(runtime, issue.number)
    session.expire_all()
    rows = session.execute(
        select(Delivery, Edition.lang)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.issue_id == issue.id)
        .order_by(Delivery.id)
    ).all()
    first = {}
    for d, lang in rows:
        first.setdefault(lang, d)
    hard, soft, complaint = first["en"], first["ko"], first["both"]
    events = [
        _event(
            "bounce",
            hard,
            type="bounce",
            status="5.1.1",
            reason="550 5.1.1 user unknown",
            bounce_classification="Invalid Address",
        ),
        _event(
            "bounce",
            soft,
            type="blocked",
            status="4.7.1",
            reason="421 try again later",
            bounce_classification="Reputation",
        ),
        _event("spamreport", complaint),
    ]
    store(session, events, utcnow())
    apply_pending(session, utcnow(), runtime.settings.model_copy(update={"soft_bounce_limit": 1}))
    session.commit()
    session.expire_all()
    return issue, hard, soft, complaint


def test_the_report_links_to_the_issues_bounces_and_complaints(
    admin, session, ingested, subscribers_by_lang, runtime
):
    issue, hard, soft, complaint = _bounced_issue(session, runtime)
    report = admin.get(f"/admin/issues/{issue.number}/report?lang=ko")
    url = f"/admin/issues/{issue.number}/bounces"
    assert 'class="warning"' in report.text
    warning = re.search(r'<p class="warning"[^>]*>.*?</p>', report.text).group(0)
    assert f'href="{url}"' in warning and "반송과 스팸 신고 보기" in warning
    assert f'href="{url}"' in admin.get("/admin/reports?lang=ko").text

    page = admin.get(url + "?lang=ko")
    assert page.status_code == 200
    rows = re.findall(r'<tr class="bounce bounce-(\w+)">(.*?)</tr>', page.text, re.DOTALL)
    by_kind = {kind: cells for kind, cells in rows}
    assert set(by_kind) == {"hard", "soft", "complaint"}
    assert hard.email in by_kind["hard"] and "영구 반송" in by_kind["hard"]
    assert "없는 주소" in by_kind["hard"] and "550 5.1.1 user unknown" in by_kind["hard"]
    assert "영어판" in by_kind["hard"]  # the edition
    assert soft.email in by_kind["soft"] and "보내는 쪽 평판 때문에 거부됨" in by_kind["soft"]
    assert (
        complaint.email in by_kind["complaint"] and "독자가 스팸으로 신고함" in by_kind["complaint"]
    )
    assert f'href="/admin/subscribers/{service.get_by_email(session, hard.email).id}"' in page.text
    assert admin.get("/admin/issues/999/bounces?lang=ko").status_code == 404


def test_the_suppression_list_says_why_which_issue_and_when(
    admin, session, ingested, subscribers_by_lang, runtime
):
    issue, hard, soft, complaint = _bounced_issue(session, runtime)
    page = admin.get("/admin/subscribers?status=suppressed&ui=ko")
    rows = dict(
        re.findall(
            r'<tr class="subscriber"><td><a href="[^"]+">([^<]+)</a>(.*?)</tr>',
            page.text,
            re.DOTALL,
        )
    )
    assert set(rows) == {hard.email, soft.email, complaint.email}
    link = f'href="/admin/issues/{issue.number}/bounces"'
    assert "영구 반송" in rows[hard.email] and link in rows[hard.email]
    assert "일시적 반송" in rows[soft.email] or "연속" in rows[soft.email]
    assert link in rows[soft.email] and link in rows[complaint.email]
    assert "스팸 신고" in rows[complaint.email]
    today = utcnow().strftime("%Y")
    assert all(today in cells for cells in rows.values())  # the date


def test_a_soft_bounce_can_be_re_enabled_a_hard_one_cannot(
    admin, session, ingested, subscribers_by_lang, runtime
):
    _, hard, soft, complaint = _bounced_issue(session, runtime)
    soft_sub = service.get_by_email(session, soft.email)
    page = admin.get(f"/admin/subscribers/{soft_sub.id}?lang=ko")
    assert 'value="reenable"' in page.text and "다시 보내기로 할 수 있습니다" in page.text
    asked = admin.post(
        f"/admin/subscribers/{soft_sub.id}/change",
        data={"action": "reenable", "csrf_token": csrf_of(page.text)},
    )
    assert asked.status_code == 200 and "일시적 반송 횟수는" in asked.text
    done = admin.post(
        f"/admin/subscribers/{soft_sub.id}/change",
        data={"action": "reenable", "confirm": "yes", "csrf_token": csrf_of(page.text)},
    )
    assert done.status_code == 303
    session.expire_all()
    sub = service.get(session, soft_sub.id)
    assert sub.status == Status.ACTIVE and sub.soft_bounces == 0
    last = session.scalars(
        select(Change).where(Change.subscriber_id == sub.id).order_by(Change.id.desc())
    ).first()
    assert (last.action, last.source) == ("re-enabled", "desk")

    for d in (hard, complaint):
        sub = service.get_by_email(session, d.email)
        page = admin.get(f"/admin/subscribers/{sub.id}?lang=ko")
        assert 'value="reenable"' not in page.text
        assert "다시 보내기로 할 수 없습니다" in page.text or "되돌릴 수 없고" in page.text
        refused = admin.post(
            f"/admin/subscribers/{sub.id}/change",
            data={"action": "reenable", "confirm": "yes", "csrf_token": csrf_of(page.text)},
        )
        assert refused.status_code == 409
        session.expire_all()
        assert service.get(session, sub.id).status in (Status.BOUNCED, Status.COMPLAINED)


NOTES = {
    "ko": {
        "hard": "독자가 직접 다시 구독 신청할 수 있으며, 신청하면 확인 메일이 가고",
        "complaint": "편집실에서 되돌릴 수 없고, 이 주소의 구독 신청도 받지 않으므로",
        "list": "영구 반송된 독자는 직접 다시 구독 신청할 수 있으며, 메일로 확인하면",
        "issue": "영구 반송된 독자는 직접 다시 구독 신청할 수 있습니다. 스팸 신고는",
    },
    "en": {
        "hard": "The reader may sign up again themselves: a sign-up sends a confirmation mail",
        "complaint": "cannot be undone from the desk, and a sign-up from this address is refused",
        "list": "A reader whose address bounced hard may sign up again themselves: confirming",
        "issue": "bounced hard may sign up again themselves; a complaint cannot be undone",
    },
}


def _note(html: str) -> str:
    found = re.search(r'<p class="muted" id="suppression-note">(.*?)</p>', html, re.DOTALL)
    return found.group(1) if found else ""


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_desk_says_a_hard_bounce_may_sign_up_again_and_a_complaint_cannot(
    admin, session, ingested, subscribers_by_lang, runtime, lang
):
    issue, hard, _, complaint = _bounced_issue(session, runtime)
    said = NOTES[lang]
    hard_page = admin.get(
        f"/admin/subscribers/{service.get_by_email(session, hard.email).id}?lang={lang}"
    )
    complaint_page = admin.get(
        f"/admin/subscribers/{service.get_by_email(session, complaint.email).id}?lang={lang}"
    )
    assert said["hard"] in _note(hard_page.text) and said["complaint"] not in hard_page.text
    assert (
        said["complaint"] in _note(complaint_page.text) and said["hard"] not in complaint_page.text
    )
    listing = admin.get(f"/admin/subscribers?status=suppressed&ui={lang}")
    assert said["list"] in listing.text
    assert said["issue"] in admin.get(f"/admin/issues/{issue.number}/bounces?lang={lang}").text
