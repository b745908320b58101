import pytest
from sqlalchemy import func, select, update

from mailer.db import utcnow
from mailer.delivery.models import Batch, BatchStatus, Delivery
from mailer.issues.models import Edition, Issue
from mailer.issues.states import InvalidTransition, IssueStatus
from tests.factories import start_send

pytestmark = pytest.mark.usefixtures("subscribers_by_lang")  # this module's issue has readers


def test_snapshot_writes_one_row_per_active_subscriber_with_their_edition(
    session, issue, settings, subscribers_by_lang
):
    start_send(session, issue, settings, utcnow())
    session.commit()
    rows = session.execute(
        select(Edition.lang, func.count())
        .select_from(Delivery)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.issue_id == issue.id)
        .group_by(Edition.lang)
    ).all()
    assert dict(rows) == subscribers_by_lang  # pending and unsubscribed get nothing
    emails = set(session.scalars(select(Delivery.email)))
    assert "pending@example.com" not in emails and "gone@example.com" not in emails


def test_batches_are_cut_per_edition_and_cover_every_delivery_once(session, issue, settings):
    two = settings.model_copy(update={"batch_size": 2})
    batch_ids = start_send(session, issue, two, utcnow())
    session.commit()
    batches = session.scalars(select(Batch).where(Batch.id.in_(batch_ids))).all()
    assert sorted(b.size for b in batches) == [
        1,
        2,
        2,
        2,
        2,
    ]  # ko 4 -> 2+2, en 3 -> 2+1, both 2 -> 2
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


# --- written a block at a time --------------------------------------------------------------------


@pytest.fixture
def small_blocks(monkeypatch, settings):
    """Batches of one, blocks of 2 then 3 batches: ko's 4 readers take two blocks."""
    from mailer.delivery import start

    monkeypatch.setattr(start, "LEDGER_FIRST_BLOCK", 2)
    monkeypatch.setattr(start, "LEDGER_BLOCK", 3)
    return settings.model_copy(update={"batch_size": 1})


class WriterDied(Exception):
    pass


def _ledger(session, issue) -> list[tuple[str, str]]:
    return sorted(
        session.execute(
            select(Edition.lang, Delivery.email)
            .join(Edition, Edition.id == Delivery.edition_id)
            .where(Delivery.issue_id == issue.id)
        ).all()
    )


def _readers(subscribers_by_lang) -> list[tuple[str, str]]:
    return sorted(
        (lang, f"{lang}{i}@example.com")
        for lang, n in subscribers_by_lang.items()
        for i in range(n)
    )


def test_each_block_is_committed_before_it_is_handed_over(
    session, issue, small_blocks, subscribers_by_lang, runtime
):
    from mailer.delivery.lifecycle import finish_issue_if_done
    from mailer.delivery.start import begin_send, start_editions

    editions = begin_send(session, issue, utcnow())
    # only ko is written here; en and both count as done, so that ko's ledger alone holds the issue open
    session.execute(
        update(Edition)
        .where(Edition.issue_id == issue.id, Edition.lang != "ko")
        .values(started_at=utcnow(), ledger_done_at=utcnow())
    )
    session.commit()
    seen = []

    def after_block(batch_ids):
        with (
            runtime.sessions() as other
        ):  # another connection sees the block, so a worker can send it
            committed = other.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.batch_id.in_(batch_ids))
            )
            ko = other.scalar(
                select(Edition).where(Edition.issue_id == issue.id, Edition.lang == "ko")
            )
            seen.append((len(batch_ids), committed, ko.ledger_done_at is not None))
            other.execute(
                update(Batch).where(Batch.id.in_(batch_ids)).values(status=BatchStatus.ACCEPTED)
            )
            other.commit()  # a worker sent the block at once
            if len(seen) == 1:  # every batch so far is sent, but half of ko is still to write
                assert not finish_issue_if_done(other, issue.id, utcnow())

    ko = next(e for e in editions if e.lang == "ko")
    start_editions(session, issue, [ko], small_blocks, utcnow(), after_block)
    assert seen == [(2, 2, False), (2, 2, True)]  # 4 ko readers: a first block of 2, then the rest
    assert _ledger(session, issue) == [r for r in _readers(subscribers_by_lang) if r[0] == "ko"]
    session.expire_all()
    assert (
        session.get(Issue, issue.id).status == IssueStatus.SENT
    )  # the writer finished it, its ledger done


def test_a_reader_back_just_before_the_snapshot_leaves_nobody_out(
    session, issue, subscribers_by_lang
):
    """A reader re-activated after the block's batches were made, before its snapshot, is filed in it and
    pushes the last reader past the block: the next block takes them, and is the last."""
    from sqlalchemy import event

    from mailer.delivery.ledger import write_block
    from mailer.delivery.start import begin_send
    from subscribers.models import Status, Subscriber

    editions = begin_send(session, issue, utcnow())
    ko = next(e for e in editions if e.lang == "ko")
    session.execute(
        update(Subscriber)
        .where(Subscriber.email == "ko1@example.com")
        .values(status=Status.UNSUBSCRIBED)
    )
    session.commit()

    def back_before_the_snapshot(state):
        if state.is_insert and state.statement.table.name == "deliveries":
            state.session.connection().execute(
                update(Subscriber)
                .where(Subscriber.email == "ko1@example.com")
                .values(status=Status.ACTIVE)
            )

    event.listen(session, "do_orm_execute", back_before_the_snapshot)
    first = write_block(session, issue, ko, utcnow(), 1, None, 3)
    event.remove(session, "do_orm_execute", back_before_the_snapshot)
    assert (
        len(first.batch_ids) == 3 and not first.last
    )  # ko0, ko1 (back), ko2: ko3 is left for the next block
    second = write_block(session, issue, ko, utcnow(), 1, first.through, 3)
    assert len(second.batch_ids) == 1 and second.last
    session.commit()
    assert _ledger(session, issue) == [r for r in _readers(subscribers_by_lang) if r[0] == "ko"]


def test_readers_gone_just_before_the_snapshot_leave_the_last_batch_short_and_none_empty(
    session, issue, subscribers_by_lang
):
    """4 ko readers, batches of 3, a block of up to 10 batches; two leave after the batches were made,
    before the snapshot: one batch of 2 remains, sized 2, and the nine empty ones go."""
    from sqlalchemy import event

    from mailer.delivery.ledger import write_block
    from mailer.delivery.start import begin_send
    from subscribers.models import Status, Subscriber

    editions = begin_send(session, issue, utcnow())
    ko = next(e for e in editions if e.lang == "ko")
    session.commit()
    leaving = ("ko0@example.com", "ko2@example.com")

    def gone_before_the_snapshot(state):
        if state.is_insert and state.statement.table.name == "deliveries":
            state.session.connection().execute(
                update(Subscriber)
                .where(Subscriber.email.in_(leaving))
                .values(status=Status.UNSUBSCRIBED)
            )

    event.listen(session, "do_orm_execute", gone_before_the_snapshot)
    block = write_block(session, issue, ko, utcnow(), 3, None, 10)
    event.remove(session, "do_orm_execute", gone_before_the_snapshot)
    session.commit()
    assert [session.get(Batch, b).size for b in block.batch_ids] == [2] and block.last
    assert session.scalar(select(func.count()).select_from(Batch)) == 1
    assert block.through == max(session.scalars(select(Delivery.subscriber_id)))


def test_a_ledger_whose_writer_died_is_finished_by_beat_once(
    session, issue, small_blocks, subscribers_by_lang
):
    from datetime import timedelta

    from mailer.delivery.start import begin_send, start_due, start_editions

    now = utcnow()
    editions = begin_send(session, issue, now)
    session.commit()

    def dies(batch_ids):
        raise WriterDied()

    with pytest.raises(WriterDied):
        start_editions(session, issue, editions, small_blocks, now, dies)
    session.rollback()
    assert len(_ledger(session, issue)) == 2  # the first block of the first edition, committed
    later = utcnow()
    # en and both, never started, are due; ko's writer may still be alive, so it is left to it for now
    assert len(start_due(session, small_blocks, later)) == 3 + 2
    session.commit()
    assert len(_ledger(session, issue)) == 2 + 3 + 2
    taken = start_due(
        session, small_blocks, later + timedelta(seconds=small_blocks.batch_lease_seconds + 1)
    )
    session.commit()
    assert len(taken) == 2  # the rest of ko
    assert _ledger(session, issue) == _readers(subscribers_by_lang)  # everyone once
    assert start_due(session, small_blocks, later + timedelta(days=1)) == []
    session.expire_all()
    assert all(
        e.ledger_done_at is not None
        for e in session.scalars(select(Edition).where(Edition.issue_id == issue.id))
    )


def test_a_send_cancelled_while_its_ledger_is_written_writes_no_more(session, issue, small_blocks):
    from mailer.delivery.lifecycle import cancel_issue
    from mailer.delivery.start import begin_send, start_editions

    editions = begin_send(session, issue, utcnow())
    session.commit()
    ko = next(e for e in editions if e.lang == "ko")

    def cancel(batch_ids):
        if batch_ids:
            cancel_issue(session, issue, utcnow())
            session.commit()

    assert len(start_editions(session, issue, [ko], small_blocks, utcnow(), cancel)) == 2
    session.expire_all()
    assert len(_ledger(session, issue)) == 2 and ko.ledger_done_at is not None


def test_a_writer_taken_over_stops_without_writing_twice(
    session, issue, small_blocks, subscribers_by_lang, runtime
):
    from datetime import timedelta

    from mailer.delivery.start import begin_send, resume_ledger, start_editions

    editions = begin_send(session, issue, utcnow())
    session.commit()
    ko = next(e for e in editions if e.lang == "ko")
    ko_id = ko.id

    def stalls_then_is_taken_over(batch_ids):
        if (
            len(_ledger(session, issue)) == 2
        ):  # after its first block, it goes silent past its lease ...
            with runtime.sessions() as other:  # ... and beat takes over and writes the rest
                later = utcnow() + timedelta(seconds=small_blocks.batch_lease_seconds + 1)
                assert len(resume_ledger(other, ko_id, later, small_blocks)) == 2
                other.commit()

    written = start_editions(
        session, issue, [ko], small_blocks, utcnow(), stalls_then_is_taken_over
    )
    assert len(written) == 2  # its own first block; its second is rolled back, not written twice
    assert _ledger(session, issue) == [r for r in _readers(subscribers_by_lang) if r[0] == "ko"]
