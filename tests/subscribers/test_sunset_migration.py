"""The migration that adds the sunset count fills it from the ledger still kept: issues delivered after
the last one the reader opened or clicked (a machine's open leaves a delivery `delivered`)."""

from sqlalchemy import create_engine, text


def test_the_count_starts_from_the_ledger(tmp_path):
    from alembic import command

    from mailer.db import alembic_config

    url = f"sqlite:///{tmp_path / 'sunset.db'}"
    command.upgrade(alembic_config(url), "0023")
    engine = create_engine(url)
    statuses = {  # subscriber: the status of their delivery of issues 1, 2, 3 ...
        1: ["delivered", "opened", "delivered", "delivered", "delivered"],
        2: ["delivered"] * 4 + ["bounced"],
        3: ["clicked", "delivered", "clicked"],
        4: [],
    }
    with engine.begin() as conn:
        for sid, row in statuses.items():
            conn.execute(
                text(
                    "INSERT INTO subscribers (id, email, lang, status, consent_source, soft_bounces,"
                    " created_at, updated_at) VALUES (:id, :email, 'ko', 'active', 'cli', 0,"
                    " '2026-12-07 00:00:00', '2026-12-07 00:00:00')"
                ),
                {"id": sid, "email": f"r{sid}@example.com"},
            )
            for issue, status in enumerate(row, start=1):
                conn.execute(
                    text(
                        "INSERT INTO deliveries (issue_id, edition_id, subscriber_id, status)"
                        " VALUES (:issue, 1, :sid, :status)"
                    ),
                    {"issue": issue, "sid": sid, "status": status},
                )
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as conn:
        found = {
            sid: (n, last)
            for sid, n, last in conn.execute(
                text("SELECT id, unread_issues, unread_issue FROM subscribers")
            )
        }
    engine.dispose()
    assert found == {1: (3, 5), 2: (4, 4), 3: (0, 3), 4: (0, None)}
