"""A send's figures from one snapshot: the rate over a sliding window, time left, "starting" until there
is enough to measure, "stalled" (and why) once recipients wait and nothing is accepted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailer.delivery import figures as f
from mailer.delivery.stats import PARTLY_SENT, Progress
from mailer.issues import reasons

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
TOTAL = 60_000  # a one-minute send at 1,000 a second


def steady(at: float, per_second: int = 1000, batch: int = 1000, total: int = TOTAL) -> f.Snapshot:
    """A send started at T0 whose batches of `batch` are accepted one after another at `per_second`,
    seen `at` seconds in (a batch's sent_at is when its request started)."""
    every = batch / per_second
    accepted = []
    n = 0
    while (n + 1) * every <= at and (n + 1) * batch <= total:
        accepted.append((T0 + timedelta(seconds=n * every), batch))
        n += 1
    sent = n * batch
    now = T0 + timedelta(seconds=at)
    window = [(when, size) for when, size in accepted if when >= now - timedelta(seconds=60)]
    return f.Snapshot(
        progress=Progress(status="sending", total=total, sent=sent),
        now=now,
        since=T0,
        accepted=window,
        last_accepted=accepted[-1][0] if accepted else None,
    )


def old_eta(snap: f.Snapshot) -> int | None:
    """What ops status said before: recipients of the last five minutes over 300 s."""
    recent = sum(n for at, n in snap.accepted if at >= snap.now - timedelta(minutes=5))
    rate = recent / 300
    return round(snap.progress.waiting / rate) if rate else None


def test_a_steady_one_minute_send_reads_as_one_minute_from_its_first_seconds():
    early = f.figures(steady(0.6), 60)
    assert early.state == f.STARTING and early.eta_seconds is None  # no batch back yet
    assert f.figures(steady(3.0), 60).state == f.STARTING  # too soon to call a rate
    at5 = f.figures(steady(5.0), 60)
    assert at5.state == f.SENDING and at5.per_second == pytest.approx(1000)
    assert at5.eta_seconds == 55  # 55,000 waiting at 1,000 a second
    at13 = f.figures(steady(13.0), 60)
    assert at13.per_second == pytest.approx(1000) and at13.eta_seconds == 47
    # the fixed five-minute window said 55 and 47 minutes
    assert (old_eta(steady(5.0)), old_eta(steady(13.0))) == (3300, 1085)


def test_the_window_slides_past_the_first_minute():
    snap = steady(90.0, per_second=500, total=100_000)  # 500 a second throughout
    found = f.figures(snap, 60)
    assert found.window_seconds == 60 and found.per_second == pytest.approx(500, rel=0.02)
    assert found.eta_seconds == pytest.approx(snap.progress.waiting / 500, rel=0.02)


def test_a_stall_reads_as_stalled_not_as_minutes_left():
    sent_until = steady(120.0, per_second=100, total=TOTAL)  # 12,000 sent in two minutes
    stalled = f.Snapshot(
        progress=sent_until.progress,
        now=sent_until.now + timedelta(seconds=61),
        since=T0,
        accepted=[a for a in sent_until.accepted if a[0] >= sent_until.now - timedelta(seconds=0)],
        last_accepted=sent_until.last_accepted,
    )
    found = f.figures(stalled, 60)
    assert found.state == f.STALLED and found.eta_seconds is None and found.per_second == 0
    assert found.stalled_for >= 61
    # and not before the threshold: 59 s after the last batch the send still reads as sending
    not_yet = f.figures(
        f.Snapshot(
            progress=sent_until.progress,
            now=sent_until.last_accepted + timedelta(seconds=59),
            since=T0,
            accepted=sent_until.accepted,
            last_accepted=sent_until.last_accepted,
        ),
        60,
    )
    assert not_yet.state == f.SENDING


def test_a_send_that_never_got_going_is_stalled_after_the_threshold():
    snap = f.Snapshot(
        progress=Progress(status="sending", total=10),
        now=T0 + timedelta(seconds=61),
        since=T0,
    )
    assert f.figures(snap, 60).state == f.STALLED
    assert f.figures(snap, 120).state == f.STARTING


def test_a_resume_restarts_the_clock_and_the_window():
    """Paused for ten minutes, resumed 3 s ago: starting, neither stalled nor a rate over the pause."""
    snap = f.Snapshot(
        progress=Progress(status="sending", total=10_000, sent=4_000),
        now=T0 + timedelta(minutes=10, seconds=3),
        since=T0 + timedelta(minutes=10),
        accepted=[],
        last_accepted=T0 + timedelta(seconds=4),
    )
    assert f.figures(snap, 60).state == f.STARTING


def test_paused_partly_sent_and_finished_sends():
    paused = Progress(status="paused", total=10, sent=4)
    editor = f.Snapshot(progress=paused, now=T0, status_reason=reasons.paused("mina", "typo"))
    assert f.figures(editor, 60) == f.Figures(f.PAUSED)
    system = f.Snapshot(
        progress=paused, now=T0, status_reason=reasons.credentials_refused(1, "401")
    )
    found = f.figures(system, 60)
    assert found.state == f.STALLED and found.reason == f.PAUSED_BY_SYSTEM
    assert f.stall_reason(found, f.Signals(broker="down")) == f.PAUSED_BY_SYSTEM
    partly = Progress(status="sending", total=4, sent=4, unscheduled=("en",))
    assert f.figures(f.Snapshot(progress=partly, now=T0, since=T0), 60).state == PARTLY_SENT
    done = Progress(status="sent", total=4, sent=4)
    assert f.figures(f.Snapshot(progress=done, now=T0), 60).state == "sent"


def test_no_time_left_while_the_total_is_not_known_yet():
    snap = steady(10.0)
    writing = f.Snapshot(
        progress=Progress(status="sending", total=TOTAL, sent=10_000, ledger_pending=("en",)),
        now=snap.now,
        since=T0,
        accepted=snap.accepted,
        last_accepted=snap.last_accepted,
    )
    found = f.figures(writing, 60)
    assert found.state == f.SENDING and found.per_second and found.eta_seconds is None


@pytest.mark.parametrize(
    ("signals", "reason"),
    [
        (f.Signals(broker="down", database_errors=True), f.BROKER_DOWN),
        (f.Signals(broker="up", database_errors=True, send_depth=5), f.DATABASE_ERRORS),
        (f.Signals(broker="up", workers_on_send=0, rate_limit_wait=30), f.NO_WORKER),
        (f.Signals(broker="up", rate_limit_wait=1200, send_depth=0, unacked=3), f.RATE_LIMIT),
        (f.Signals(broker="up", retrying_with_error=2, send_depth=0, unacked=2), f.PROVIDER_ERRORS),
        (f.Signals(broker="up", send_depth=40, unacked=0), f.NO_WORKER),
        (f.Signals(broker="up", send_depth=0, unacked=0, queued_work=12), f.QUEUE_LOST),
        (f.Signals(broker="up", send_depth=0, unacked=4, queued_work=12), f.UNKNOWN),
        (f.Signals(broker="none", queued_work=12), f.UNKNOWN),
    ],
)
def test_the_stall_reason_is_the_first_that_holds(signals, reason):
    assert f.stall_reason(f.Figures(f.STALLED), signals) == reason
