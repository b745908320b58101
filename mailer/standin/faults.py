"""Fault injection: which outcome the next mail-send request gets.

Spec syntax: comma-separated `kind:probability`, e.g. "429:0.1,500:0.05,503:0.02,drop:0.01,slow:0.02".
Kinds: 429, 500, 503 (answer that error without accepting), 400 (a generic "Bad Request" naming no
field, as SendGrid sometimes answers; nothing accepted), hang (accept and record, then hold the 202 for
the slow time: a client that dies meanwhile never learns it was accepted), drop (accept and record, then close the
connection without a response), slow (the request takes a while to arrive, then is answered normally; a
client that hangs up meanwhile, timed out or killed, gets nothing accepted). Probabilities must sum to <= 1.
A script of outcomes (the kinds above, or "202"/"ok" for a normal answer) is consumed first, in order,
so tests can be exact; random draws come from a seeded random.Random so runs repeat.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Iterable

OK = "ok"
KINDS = ("400", "429", "500", "503", "drop", "hang", "slow")
_ALIASES = {"202": OK, "ok": OK, "200": OK}


def _kind(name: str) -> str:
    name = name.strip().lower()
    if name in _ALIASES:
        return _ALIASES[name]
    if name not in KINDS:
        raise ValueError(f"unknown fault kind {name!r}; expected one of {', '.join(KINDS)} or 202")
    return name


def parse_spec(spec: str | None) -> list[tuple[str, float]]:
    """'429:0.1,drop:0.01' -> [('429', 0.1), ('drop', 0.01)]; raises ValueError on anything odd."""
    pairs: list[tuple[str, float]] = []
    for item in (spec or "").split(","):
        if not item.strip():
            continue
        name, sep, prob = item.partition(":")
        if not sep:
            raise ValueError(f"fault {item.strip()!r} needs a probability, like 429:0.1")
        kind = _kind(name)
        if kind == OK:
            raise ValueError(
                "a normal answer is what is left over; give only fault kinds a probability"
            )
        try:
            p = float(prob)
        except ValueError:
            raise ValueError(f"fault {item.strip()!r}: {prob!r} is not a number") from None
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"fault {item.strip()!r}: probability must be between 0 and 1")
        pairs.append((kind, p))
    if sum(p for _, p in pairs) > 1.0 + 1e-9:
        raise ValueError("fault probabilities add up to more than 1")
    return pairs


class Faults:
    """Thread-safe: handler threads call next_outcome() concurrently."""

    def __init__(self, spec: str | None = None, *, script: Iterable[str] = (), seed: int = 0):
        self.probabilities = parse_spec(spec)
        self._script = deque(_kind(s) for s in script)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def push(self, *outcomes: str) -> None:
        """Script more outcomes on a running stand-in."""
        kinds = [_kind(o) for o in outcomes]
        with self._lock:
            self._script.extend(kinds)

    def next_outcome(self) -> str:
        """'ok' or one of KINDS."""
        with self._lock:
            if self._script:
                return self._script.popleft()
            if not self.probabilities:
                return OK
            draw = self._rng.random()
        for kind, p in self.probabilities:
            if draw < p:
                return kind
            draw -= p
        return OK

    def __repr__(self) -> str:
        spec = ",".join(f"{k}:{p:g}" for k, p in self.probabilities)
        return f"Faults({spec!r}, script={list(self._script)!r})"
