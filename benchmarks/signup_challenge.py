"""The embeddable sign-up form's proof of work: what it costs the server and what it asks of a client.

    python benchmarks/signup_challenge.py [--rounds 200] [--solves 3]

Server side, with the project's own functions (mailer.web.challenge): issuing a challenge (one PBKDF2
derivation at the real difficulty, to pre-solve it, and two HMACs), checking a solution (HMACs only:
the deterministic mode's fast path) and marking it spent in the in-process store. Client side: the
`altcha` library's own solver in Python at the real difficulty, one core, as a floor on what a bot
without a browser pays per sign-up (the browser's widget derives with WebCrypto in workers).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import altcha

from mailer.config import Settings
from mailer.kv import MemoryStore
from mailer.web import challenge


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return f"median {statistics.median(ordered) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--solves", type=int, default=3)
    args = parser.parse_args()
    settings = Settings(_env_file=None, secret_key="a benchmark's secret key, long enough")
    difficulty = challenge.DIFFICULTY
    print(
        f"difficulty: {challenge.ALGORITHM}, {difficulty.cost} iterations a try, "
        f"counter in [{difficulty.low}, {difficulty.high})"
    )

    issued, issue_times = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        issued.append(challenge.issue(settings, time.time(), difficulty))
        issue_times.append(time.perf_counter() - start)
    print(f"issue a challenge ({args.rounds}): {_ms(issue_times)}")

    solve_times, tries = [], []
    payloads = []
    for one in issued[: args.solves]:
        parsed = altcha.Challenge.from_dict(one)
        start = time.perf_counter()
        solution = altcha.solve_challenge(parsed, timeout=600)
        solve_times.append(time.perf_counter() - start)
        assert solution is not None
        tries.append(solution.counter + 1)
        payloads.append(altcha.Payload(parsed, solution).to_base64())
    print(
        f"solve in Python, one core ({args.solves}): "
        + ", ".join(f"{s:.2f} s ({n:,} tries)" for s, n in zip(solve_times, tries, strict=True))
    )

    check_times, spend_times = [], []
    store = MemoryStore()
    for i in range(args.rounds):
        payload = payloads[i % len(payloads)]
        start = time.perf_counter()
        checked = challenge.check(settings, payload)
        check_times.append(time.perf_counter() - start)
        assert checked.verdict is challenge.Verdict.SOLVED
        start = time.perf_counter()
        challenge.spend(store, checked, time.time())
        spend_times.append(time.perf_counter() - start)
    print(f"check a solution ({args.rounds}): {_ms(check_times)}")
    print(f"mark it spent, in-process store ({args.rounds}): {_ms(spend_times)}")
    forged = payloads[0][:-8] + "AAAAAAA="
    start = time.perf_counter()
    for _ in range(args.rounds):
        challenge.check(settings, forged)
    print(
        f"refuse a forged payload: {(time.perf_counter() - start) / args.rounds * 1000:.3f} ms each"
    )


if __name__ == "__main__":
    main()
