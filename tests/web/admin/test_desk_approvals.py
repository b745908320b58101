"""A plain editor's schedule goes out only once an admin approves it, on a step that names whom each
edition reaches; a later change by the editor needs a new approval. An admin's schedule stands at once."""

import html
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from mailer.db import utcnow
from mailer.delivery.models import Delivery
from mailer.delivery.tasks import run_send_due
from mailer.issues.models import Edition

from .conftest import PASSWORD, csrf_of, log_in


@pytest.fixture
def jun(runtime, session):
    """A plain editor, logged in on a browser of his own (the admin has hers)."""
    from fastapi.testclient import TestClient

    from mailer.web.admin.accounts import create_user
    from mailer.web.app import create_app

    create_user(session, "jun", PASSWORD, role="editor")
    session.commit()
    client = TestClient(create_app(runtime), base_url="https://testserver", follow_redirects=False)
    assert log_in(client, "jun").status_code == 303
    return client


def _schedule(client, lang="all"):
    token = csrf_of(client.get("/admin/issues/1").text)
    form = {"lang": lang, "date": "2099-01-05", "time": "07:00", "timezone": "UTC"}
    return client.post("/admin/issues/1/schedule", data={"csrf_token": token, **form})


def _due_now(session):
    """The send time passes (as beat would find it)."""
    session.execute(update(Edition).values(send_at=utcnow() - timedelta(minutes=1)))
    session.commit()


def _deliveries(session) -> int:
    return session.scalar(select(func.count()).select_from(Delivery))


def _approve(admin, lang="en"):
    """The admin's two steps: the one naming the recipients, then the approval."""
    token = csrf_of(admin.get("/admin/issues/1").text)
    step = admin.post(f"/admin/issues/1/approve?lang={lang}", data={"csrf_token": token})
    assert step.status_code == 200, step.text
    shown = step.text.split('name="shown" value="')[1].split('"')[0]
    done = admin.post(
        "/admin/issues/1/approve",
        data={"csrf_token": csrf_of(step.text), "confirm": "yes", "shown": shown},
    )
    return step, done


def test_an_editors_schedule_is_not_sent_until_an_admin_approves_it(
    jun, admin, session, runtime, drafted
):
    scheduled = _schedule(jun)
    assert scheduled.status_code == 303 and scheduled.headers["location"].endswith("n=awaiting")
    assert "goes out once an admin approves it" in jun.get(scheduled.headers["location"]).text
    session.expire_all()
    assert drafted.status == "scheduled"
    assert all(e.approved_at is None for e in drafted.editions)
    for page, words in (("en", "Awaiting approval"), ("ko", "승인 대기")):
        shown = jun.get(f"/admin/issues/1?lang={page}").text
        assert words in shown and 'id="awaiting-approval"' in shown
        assert "/approve" not in shown  # the button is the admin's
    _due_now(session)
    assert run_send_due(runtime) == 0
    session.expire_all()
    assert _deliveries(session) == 0 and drafted.status == "scheduled"

    step, done = _approve(admin)
    assert "9 people" in step.text
    reach = step.text[step.text.index('id="approve-reach"') :]
    assert "Korean edition: 4 people" in reach and "English edition: 3 people" in reach
    assert "Bilingual edition: 2 people" in reach
    assert done.status_code == 303
    session.expire_all()
    assert {e.approved_by for e in drafted.editions} == {"mina"}
    page = admin.get("/admin/issues/1?lang=en").text
    assert (
        'Approved by <span translate="no">mina</span>' in page
        and 'id="awaiting-approval"' not in page
    )
    assert run_send_due(runtime) > 0
    session.expire_all()
    assert _deliveries(session) == 9


def test_the_approve_step_speaks_korean(jun, admin, session, drafted):
    _schedule(jun)
    token = csrf_of(admin.get("/admin/issues/1").text)
    step = admin.post("/admin/issues/1/approve?lang=ko", data={"csrf_token": token})
    assert step.status_code == 200 and "한국어판: 4명" in html.unescape(step.text)


def test_an_editor_cannot_approve(jun, session, runtime, drafted):
    _schedule(jun)
    token = csrf_of(jun.get("/admin/issues/1").text)
    for form in ({}, {"confirm": "yes"}):
        refused = jun.post("/admin/issues/1/approve", data={"csrf_token": token, **form})
        assert refused.status_code == 403 and "Only an admin" in refused.text
    session.expire_all()
    assert all(e.approved_at is None for e in drafted.editions)
    _due_now(session)
    assert run_send_due(runtime) == 0


def test_an_approval_needs_the_form_of_the_desk(admin, jun, session, drafted):
    _schedule(jun)
    assert admin.post("/admin/issues/1/approve", data={"confirm": "yes"}).status_code == 403
    session.expire_all()
    assert all(e.approved_at is None for e in drafted.editions)


def test_an_admins_own_schedule_is_approved_at_once(admin, session, runtime, drafted):
    assert _schedule(admin).status_code == 303
    session.expire_all()
    assert {e.approved_by for e in drafted.editions} == {"mina"}
    _due_now(session)
    assert run_send_due(runtime) > 0


def test_an_editors_change_after_approval_needs_a_new_one(jun, admin, session, runtime, drafted):
    _schedule(jun)
    _approve(admin)
    # the editor swaps a story: what the admin approved is not what would go out
    token = csrf_of(jun.get("/admin/issues/1").text)
    story = drafted.stories[0].article_id
    removed = jun.post(
        "/admin/issues/1/stories",
        data={"csrf_token": token, "action": "remove", "article_id": story},
    )
    assert removed.status_code == 303
    session.expire_all()
    assert all(e.approved_at is None for e in drafted.editions)
    assert 'id="awaiting-approval"' in jun.get("/admin/issues/1").text
    _due_now(session)
    assert run_send_due(runtime) == 0

    _approve(admin)
    session.expire_all()
    assert all(e.approved_at for e in drafted.editions)
    # a new send time from the editor drops the approval of that edition
    session.execute(update(Edition).values(send_at=utcnow() + timedelta(days=1)))
    session.commit()
    assert _schedule(jun, lang="ko").status_code == 303
    session.expire_all()
    approved = {e.lang: e.approved_at is not None for e in drafted.editions}
    assert approved == {"ko": False, "en": True, "both": True}


def test_an_admins_edit_keeps_the_approval(jun, admin, session, drafted):
    _schedule(jun)
    _approve(admin)
    token = csrf_of(admin.get("/admin/issues/1").text)
    story = drafted.stories[0].article_id
    admin.post(
        "/admin/issues/1/stories",
        data={"csrf_token": token, "action": "pin", "article_id": story},
    )
    session.expire_all()
    assert all(e.approved_at for e in drafted.editions)


def test_a_change_between_the_step_and_the_approval_asks_for_a_new_look(
    jun, admin, session, drafted
):
    _schedule(jun)
    token = csrf_of(admin.get("/admin/issues/1").text)
    step = admin.post("/admin/issues/1/approve", data={"csrf_token": token})
    shown = step.text.split('name="shown" value="')[1].split('"')[0]
    token_jun = csrf_of(jun.get("/admin/issues/1").text)
    story = drafted.stories[0].article_id
    jun.post(
        "/admin/issues/1/stories",
        data={"csrf_token": token_jun, "action": "remove", "article_id": story},
    )
    late = admin.post(
        "/admin/issues/1/approve",
        data={"csrf_token": csrf_of(step.text), "confirm": "yes", "shown": shown},
    )
    assert late.status_code == 409 and "Look again" in late.text
    session.expire_all()
    assert all(e.approved_at is None for e in drafted.editions)


def test_an_editor_cannot_send_their_schedule_now(jun, session, drafted):
    _schedule(jun)
    token = csrf_of(jun.get("/admin/issues/1").text)
    refused = jun.post(
        "/admin/issues/1/action", data={"csrf_token": token, "action": "send", "confirm": "yes"}
    )
    assert refused.status_code == 403
    session.expire_all()
    assert _deliveries(session) == 0 and drafted.status == "scheduled"


def test_nothing_to_approve_is_said_so(admin, session, drafted):
    token = csrf_of(admin.get("/admin/issues/1").text)
    for page, words in (
        ("en", "No send time of issue #1 waits for approval."),
        ("ko", "제1호에는 승인을 기다리는 발송 일정이 없습니다."),
    ):
        r = admin.post(f"/admin/issues/1/approve?lang={page}", data={"csrf_token": token})
        assert r.status_code == 409 and words in html.unescape(r.text)
    assert admin.post("/admin/issues/99/approve", data={"csrf_token": token}).status_code == 404
