"""A webhook event's JSON as stored: SendGrid's, without the keys its own columns already hold.

Each event is stored with its kind, address, id, time and our custom_args (issue, delivery) in columns,
which the stats, the desk and retention read. The same values again in the JSON took about 170 of each
row's 620 bytes: 1.9 GB of the events a million-reader list keeps for 30 days. A key is left out only
when its column gives back exactly the value sent, its type too (a float timestamp, an issue id sent as
a number, an event without SendGrid's id keep theirs), so `raw` puts the event together again as it
came, for a subscriber's export. Nothing else reads those keys from the JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

LIFTED = ("event", "email", "timestamp", "sg_event_id", "issue_id", "delivery_id")
MACHINE_OPEN = "machine_open"  # how an open SendGrid marks `sg_machine_open` is filed (store.kind)
REJECTED = "rejected"  # the `event` of a stored rejection: no stat or effect counts it
# ids we file an event under when it came without one of SendGrid's (store._event_id, _rejection)
OUR_IDS = ("h:", "rejected:")


def given_back(
    kind: str | None,
    email: str | None,
    occurred_at: datetime | None,
    sg_event_id: str | None,
    issue_id: int | None,
    delivery_id: int | None,
) -> dict[str, Any]:
    """The lifted keys as the columns give them back (a key whose column is empty is not given)."""
    if kind == REJECTED:
        return {}
    out: dict[str, Any] = {}
    if kind is not None:
        out["event"] = "open" if kind == MACHINE_OPEN else kind
    if email is not None:
        out["email"] = email
    if occurred_at is not None:
        out["timestamp"] = int(occurred_at.timestamp())
    if sg_event_id is not None and not sg_event_id.startswith(OUR_IDS):
        out["sg_event_id"] = sg_event_id
    if issue_id is not None:
        out["issue_id"] = str(issue_id)
    if delivery_id is not None:
        out["delivery_id"] = str(delivery_id)
    return out


def lean(event: dict, columns: dict) -> dict:
    """`event` without the keys that `columns` (given_back's) give back exactly."""
    return {
        k: v
        for k, v in event.items()
        if not (k in columns and type(columns[k]) is type(v) and columns[k] == v)
    }


def raw(row) -> dict:
    """A stored event (a WebhookEvent) as it came: its JSON with the lifted keys given back."""
    back = given_back(
        row.event, row.email, row.occurred_at, row.sg_event_id, row.issue_id, row.delivery_id
    )
    return {**back, **(row.payload or {})}
