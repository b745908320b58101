"""Opens stored before machine opens were told apart are filed again by the migration that tells them."""

import json

from sqlalchemy import create_engine, text


def test_stored_machine_opens_are_filed_apart_by_the_migration(tmp_path):
    from alembic import command

    from mailer.db import alembic_config

    url = f"sqlite:///{tmp_path / 'opens.db'}"
    command.upgrade(alembic_config(url), "0018")
    engine = create_engine(url)
    rows = [
        ("a", {"event": "open", "sg_machine_open": True}),
        ("b", {"event": "open", "sg_machine_open": False}),
        ("c", {"event": "open"}),
        ("d", {"event": "open", "sg_machine_open": "yes"}),  # no SendGrid value: left alone
    ]
    with engine.begin() as conn:
        for event_id, payload in rows:
            conn.execute(
                text(
                    "INSERT INTO webhook_events (sg_event_id, event, payload, received_at)"
                    " VALUES (:id, 'open', :payload, '2026-12-07 00:00:00')"
                ),
                {"id": event_id, "payload": json.dumps(payload)},
            )
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as conn:
        found = dict(conn.execute(text("SELECT sg_event_id, event FROM webhook_events")).all())
    engine.dispose()
    assert found == {"a": "machine_open", "b": "open", "c": "open", "d": "open"}
