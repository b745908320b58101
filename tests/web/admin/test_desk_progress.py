"""The issue page's status block is one live source: heading, state, figures and buttons come from one
view, refreshed together (/admin/issues/{n}/live); a stalled send says so and why; the messages say
what happened (sending started), and the page says sent once it is."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from sqlalchemy import select, update

from mailer.db import utcnow
from mailer.delivery import counters
from mailer.delivery.batches import send_batch
from mailer.delivery.models import Batch
from mailer.issues.models import Edition, Issue
from mailer.kv import MemoryStore
from mailer.mail.senders import OutboxSender

from .conftest import csrf_of


def _actions(html: str) -> list[str]:
    return re.findall(r'name="action" value="(\w+)"', html)


def _heading(html: str) -> str:
    return re.search(r'<span id="issue-status">([^<]*)</span>', html).group(1)


def _field(html: str, name: str) -> str:
    return re.search(rf'data-field="{re.escape(name)}">([^<]*)<', html).group(1)


def test_one_live_block_from_sending_started_to_sent(
    admin, session, drafted, monkeypatch, runtime, settings
):
    monkeypatch.setattr(runtime.tasks, "send_batches", lambda ids, countdown=0.0: None)
    token = csrf_of(admin.get("/admin/issues/1").text)
    sent = admin.post(
        "/admin/issues/1/action", data={"csrf_token": token, "action": "send", "confirm": "yes"}
    )
    assert sent.status_code == 303 and sent.headers["location"].endswith("n=send_started")
    page = admin.get(sent.headers["location"] + "&lang=ko").text
    assert "발송을 시작했습니다." in page and "완료했습니다" not in page
    assert 'data-fragment-src="/admin/issues/1/live"' in page
    assert page.count('id="issue-status"') == 1 and _heading(page) == "발송 중"
    assert "진행" not in page.split('id="issue-live"')[0]  # no figure outside the live block

    live = admin.get("/admin/issues/1/live?lang=en")
    assert live.status_code == 200 and live.headers["cache-control"] == "no-store"
    assert 'data-live="yes"' in live.text and _heading(live.text) == "Sending"
    assert _field(live.text, "state") == "Starting" and _field(live.text, "eta") == "starting"
    assert _actions(live.text) == ["pause", "cancel"]

    outbox = OutboxSender(settings.outbox_dir)
    for batch_id in session.scalars(select(Batch.id).where(Batch.issue_id == drafted.id)).all():
        send_batch(session, batch_id, sender=outbox, settings=settings, store=MemoryStore())
    done = admin.get("/admin/issues/1/live?lang=ko").text
    assert _heading(done) == "발송 완료" and _field(done, "state") == "발송 완료"
    assert _field(done, "issue.percent") == "100%" and _field(done, "issue.sent") == "9"
    assert _actions(done) == [] and 'data-live="no"' in done
    assert "할 수 있는 발송 동작이 없습니다" in done


def test_a_stalled_send_shows_stalled_and_why(admin, session, drafted, settings, runtime):
    from tests.factories import start_send

    then = utcnow() - timedelta(seconds=150)
    start_send(session, drafted, settings, then)
    session.execute(update(Edition).where(Edition.issue_id == drafted.id).values(started_at=then))
    session.execute(update(Issue).where(Issue.id == drafted.id).values(updated_at=then))
    session.commit()
    counters.record_db_error(runtime.kv, time.time())
    for lang, state, reason, eta in (
        ("en", "Stalled", "Nothing accepted for about 2 min 30 s: database errors", "stalled"),
        ("ko", "발송 멈춤", "약 2분 30초 동안 접수된 메일이 없습니다: 데이터베이스 오류", "멈춤"),
    ):
        for url in ("/admin/issues/1", "/admin/issues/1/live"):
            html = admin.get(f"{url}?lang={lang}").text
            assert _field(html, "state") == state and _field(html, "eta") == eta, (url, lang)
            assert _field(html, "note") in (reason, reason.replace("30", "31")), (url, lang)
            assert _actions(html) == ["pause", "cancel"]
    data = admin.get("/admin/issues/1/progress?lang=en").json()
    assert data["state"] == "stalled" and data["fields"]["state"] == "Stalled"


def test_the_page_shows_each_send_figure_once(admin, session, drafted, settings, runtime):
    """Beat's stored counts lag the batches: a send figure from them beside the live bar would be a
    second, older truth. The readers' line keeps what only the webhook tells (delivered, opened...)."""
    from mailer.events.stats import stored_counts
    from tests.factories import start_send

    start_send(session, drafted, settings, utcnow())
    session.commit()
    stored_counts(session, drafted, utcnow(), settings)  # stored now: 0 sent
    session.commit()
    outbox = OutboxSender(settings.outbox_dir)
    first = session.scalars(select(Batch.id).where(Batch.issue_id == drafted.id)).first()
    send_batch(session, first, sender=outbox, settings=settings, store=MemoryStore())
    page = admin.get("/admin/issues/1?lang=en").text
    readers = page[page.index("<h2>Readers</h2>") :]
    readers = readers[: readers.index("</section>")]
    assert "delivered 0" in readers and "sent" not in readers
    assert _field(page, "issue.sent") != "0"
