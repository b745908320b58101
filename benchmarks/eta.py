"""Time left of a steady send, as the figures say it now and as the fixed five-minute window said it.

    python benchmarks/eta.py [--per-second 1000] [--total 60000] [--batch 1000] [--at 0.6,5,13,30,59]

A send of `total` recipients whose batches are accepted one after another at `per_second`, seen at each
moment of `--at` (seconds after its start) and then stalled for 61 s: prints the state, rate and time left
from mailer.delivery.figures, beside the old rate (recipients of the last 300 s over 300 s) and its time
left. Pure arithmetic on the same snapshot; no database.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailer.delivery import figures
from mailer.delivery.stats import Progress

T0 = datetime(2026, 12, 7, tzinfo=UTC)


def snapshot(
    at: float, per_second: float, total: int, batch: int, quiet_after: float | None = None
):
    every = batch / per_second
    accepted = []
    n = 0
    last_moment = at if quiet_after is None else quiet_after
    while (n + 1) * every <= last_moment and (n + 1) * batch <= total:
        accepted.append((T0 + timedelta(seconds=n * every), batch))
        n += 1
    now = T0 + timedelta(seconds=at)
    return figures.Snapshot(
        progress=Progress(status="sending", total=total, sent=n * batch),
        now=now,
        since=T0,
        accepted=[a for a in accepted if a[0] >= now - timedelta(seconds=300)],
        last_accepted=accepted[-1][0] if accepted else None,
    )


def old(snap) -> tuple[float, int | None]:
    recent = sum(n for at, n in snap.accepted if at >= snap.now - timedelta(seconds=300))
    rate = recent / 300
    return rate, (round(snap.progress.waiting / rate) if rate else None)


def new(snap, stall_seconds: float):
    window = [a for a in snap.accepted if a[0] >= snap.now - timedelta(seconds=60)]
    return figures.figures(
        figures.Snapshot(
            progress=snap.progress,
            now=snap.now,
            since=snap.since,
            accepted=window,
            last_accepted=snap.last_accepted,
        ),
        stall_seconds,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-second", type=float, default=1000)
    parser.add_argument("--total", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--at", default="0.6,5,13,30,59")
    parser.add_argument("--stall-seconds", type=float, default=60)
    args = parser.parse_args()
    moments = [float(x) for x in args.at.split(",")]
    print(
        f"steady send: {args.total:,} recipients at {args.per_second:g}/s, batches of {args.batch}"
    )
    print(f"{'at':>7}  {'old rate':>9} {'old left':>9}   {'state':<9} {'rate':>8} {'left':>7}")
    rows = [(at, snapshot(at, args.per_second, args.total, args.batch)) for at in moments]
    stall_at = moments[-1] + args.stall_seconds + 1
    rows.append(
        (stall_at, snapshot(stall_at, args.per_second, args.total, args.batch, moments[-1]))
    )
    for at, snap in rows:
        rate, left = old(snap)
        found = new(snap, args.stall_seconds)
        shown_rate = "-" if found.per_second is None else f"{found.per_second:,.0f}/s"
        shown_left = "-" if found.eta_seconds is None else f"{found.eta_seconds}s"
        old_left = "-" if left is None else f"{left}s"
        print(
            f"{at:>6g}s  {rate:>7.1f}/s {old_left:>9}   {found.state:<9} {shown_rate:>8} {shown_left:>7}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
