import pytest
from sqlalchemy import func, select

from mailer.db import utcnow
from mailer.delivery.models import Batch, Delivery
from mailer.delivery.service import start_send
from mailer.issues.models import Edition
from mailer.issues.service import draft_issue
from mailer.issues.states import InvalidTransition


@pytest.fixture
def issue(session, ingested, subscribers_by_lang):
    issue = draft_issue(session, utcnow())
    session.commit()
    return issue


def test_snapshot_writes_one_row_per_active_subscriber_with_their_edition(session, issue, settings,
                                                                          subscribers_by_lang):
    start_send(session, issue, settings, utcnow())
    session.commit()
    rows = session.execute(
        select(Edition.lang, func.count()).select_from(Delivery).join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.issue_id == issue.id).group_by(Edition.lang)
    ).all()
    assert dict(rows) == subscribers_by_lang  # pending and unsubscribed get nothing
    emails = set(session.scalars(select(Delivery.email)))
    assert "pending@example.com" not in emails and "gone@example.com" not in emails


def test_batches_are_cut_per_edition_and_cover_every_delivery_once(session, issue, monkeypatch):
    from mailer.config import get_settings

    monkeypatch.setenv("MAILER_BATCH_SIZE", "2")
    get_settings.cache_clear()
    batch_ids = start_send(session, issue, get_settings(), utcnow())
    session.commit()
    batches = session.scalars(select(Batch).where(Batch.id.in_(batch_ids))).all()
    assert sorted(b.size for b in batches) == [1, 2, 2, 2, 2]  # ko 4 -> 2+2, en 3 -> 2+1, both 2 -> 2
    for b in batches:
        members = session.scalars(select(Delivery).where(Delivery.batch_id == b.id)).all()
        assert len(members) == b.size
        assert {d.edition_id for d in members} == {b.edition_id}
    assert session.scalar(select(func.count()).where(Delivery.batch_id.is_(None))) == 0


def test_starting_twice_starts_once(session, issue, settings):
    first = start_send(session, issue, settings, utcnow())
    session.commit()
    with pytest.raises(InvalidTransition):
        start_send(session, issue, settings, utcnow())
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Batch)) == len(first)
    assert session.scalar(select(func.count()).select_from(Delivery)) == 9
