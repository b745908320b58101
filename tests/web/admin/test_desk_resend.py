"""An admin resends an issue's failed batches from the desk: asked first, naming how many readers."""

from sqlalchemy import func, select, update

from mailer.delivery.models import Batch, BatchStatus, Delivery, DeliveryStatus
from mailer.issues import reasons
from mailer.issues.models import Issue

from .conftest import PASSWORD, csrf_of, log_in
from .test_desk_sending import _actions, _post


def _fail_one_batch(session, drafted) -> int:
    """As if one batch of the sent issue had been refused for good: returns how many readers it had."""
    batch_id = session.scalar(select(func.min(Batch.id)))
    failed = session.execute(
        update(Delivery)
        .where(Delivery.batch_id == batch_id)
        .values(status=DeliveryStatus.FAILED, error="400 Bad Request")
    ).rowcount
    session.execute(update(Batch).where(Batch.id == batch_id).values(status=BatchStatus.FAILED))
    session.execute(
        update(Issue).where(Issue.id == drafted.id).values(status_reason=reasons.batches_failed(1))
    )
    session.commit()
    return failed


def test_an_admin_resends_failed_batches_after_a_confirmation(admin, session, drafted):
    assert _post(admin, "send", confirm="yes").status_code == 303
    failed = _fail_one_batch(session, drafted)
    assert failed > 0
    assert _actions(admin.get("/admin/issues/1").text) == ["resend"]
    ask = _post(admin, "resend")
    people = f"{failed} {'person' if failed == 1 else 'people'}"
    assert ask.status_code == 200 and f"Yes, resend to {people}" in ask.text
    ko = admin.post(
        "/admin/issues/1/action?lang=ko",
        data={"csrf_token": csrf_of(ask.text), "action": "resend"},
    )
    assert f"{failed}명에게 다시 보냅니다" in ko.text
    session.expire_all()
    assert session.scalar(select(func.count()).where(Batch.status == BatchStatus.FAILED)) == 1
    done = _post(admin, "resend", confirm="yes")
    assert done.status_code == 303
    session.expire_all()
    assert set(session.scalars(select(Batch.status))) == {BatchStatus.ACCEPTED}
    assert DeliveryStatus.FAILED not in set(session.scalars(select(Delivery.status)))
    assert drafted.status == "sent" and drafted.status_reason is None
    again = _post(admin, "resend", confirm="yes")  # nothing left: a sentence, nothing changed
    assert again.status_code == 409


def test_an_editor_cannot_resend(admin, anonymous, session, drafted):
    from mailer.web.admin.accounts import create_user

    assert _post(admin, "send", confirm="yes").status_code == 303
    _fail_one_batch(session, drafted)
    create_user(session, "jun", PASSWORD, role="editor")
    session.commit()
    assert log_in(anonymous, "jun").status_code == 303
    assert _actions(anonymous.get("/admin/issues/1").text) == []
    assert _post(anonymous, "resend", confirm="yes").status_code == 403
    session.expire_all()
    assert session.scalar(select(func.count()).where(Batch.status == BatchStatus.FAILED)) == 1
