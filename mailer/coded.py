"""A sentence stored as a code and its parameters, so each reader says it its own way: the desk in the
page's language through its catalog, the CLI and the logs in English.

It is kept as compact JSON in the text column that used to hold the English sentence (no migration);
a value that is not such JSON (a row written before, or free text) is read as plain text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

Param = str | int


@dataclass(frozen=True)
class Coded:
    code: str
    params: dict[str, Param] = field(default_factory=dict)


def encode(code: str, **params: Param | None) -> str:
    """`{"code":…,…}`: the parameters given (None ones left out), keys sorted so equal values are equal
    strings."""
    kept = {k: v for k, v in params.items() if v is not None}
    return json.dumps(
        {"code": code, **kept}, separators=(",", ":"), sort_keys=True, ensure_ascii=False
    )


def decode(stored: str | None) -> Coded | None:
    """The code and parameters of a stored value; None for nothing, plain text or anything else."""
    if not stored or not stored.startswith("{"):
        return None
    try:
        data = json.loads(stored)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("code"), str):
        return None
    code = data.pop("code")
    if not all(isinstance(v, str | int) for v in data.values()):
        return None
    return Coded(code, data)
