"""sunset of readers who stopped reading: a `paused` status, the count of issues delivered since the last
human open or click, when the "still want this?" mail was written, that mail's outbox kind, and when an
issue's readers were counted

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa


revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

STATUSES = "'pending', 'active', 'unsubscribed', 'bounced', 'complained'"


def upgrade() -> None:
    with op.batch_alter_table('subscribers') as batch:
        batch.add_column(
            sa.Column('unread_issues', sa.Integer(), server_default='0', nullable=False)
        )
        batch.add_column(sa.Column('unread_issue', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('asked_at', sa.DateTime(), nullable=True))
        batch.drop_constraint(op.f('ck_subscribers_status'), type_='check')
        batch.create_check_constraint(
            op.f('ck_subscribers_status'), f"status IN ({STATUSES}, 'paused')"
        )
    op.create_index(op.f('ix_subscribers_asked_at'), 'subscribers', ['asked_at'])
    with op.batch_alter_table('outbox_mails') as batch:
        batch.drop_constraint(op.f('ck_outbox_mails_kind'), type_='check')
        batch.create_check_constraint(
            op.f('ck_outbox_mails_kind'), "kind IN ('confirmation', 'welcome', 'reengage')"
        )
    with op.batch_alter_table('issues') as batch:
        batch.add_column(sa.Column('unread_counted_at', sa.DateTime(), nullable=True))
    # the issues finished so far are counted below, from their ledger
    op.execute("UPDATE issues SET unread_counted_at = finished_at WHERE finished_at IS NOT NULL")
    # The count from the ledger still kept: issues delivered (a machine's open leaves a delivery
    # `delivered`) after the latest one the reader opened or clicked. Pruned rows are missing, so the
    # count can only be short: nobody is asked sooner than the rule says. One grouped pass over the
    # ledger (it has no index by subscriber), then the subscribers a chunk at a time.
    rows = op.get_bind().execute(
        sa.text(
            "SELECT d.subscriber_id, sum(CASE WHEN d.status = 'delivered' "
            "AND d.issue_id > coalesce(e.last_read, 0) THEN 1 ELSE 0 END), max(d.issue_id) "
            "FROM deliveries d LEFT JOIN (SELECT subscriber_id, max(issue_id) AS last_read "
            "FROM deliveries WHERE status IN ('opened', 'clicked') GROUP BY subscriber_id) e "
            "ON e.subscriber_id = d.subscriber_id "
            "WHERE d.subscriber_id IS NOT NULL AND d.status IN ('delivered', 'opened', 'clicked') "
            "GROUP BY d.subscriber_id"
        )
    ).all()
    update = sa.text("UPDATE subscribers SET unread_issues = :n, unread_issue = :issue WHERE id = :id")
    for start in range(0, len(rows), 10_000):
        op.get_bind().execute(
            update, [{"id": i, "n": int(n), "issue": last} for i, n, last in rows[start : start + 10_000]]
        )


def downgrade() -> None:
    with op.batch_alter_table('issues') as batch:
        batch.drop_column('unread_counted_at')
    op.execute("DELETE FROM outbox_mails WHERE kind = 'reengage'")
    op.execute("UPDATE subscribers SET status = 'active' WHERE status = 'paused'")
    with op.batch_alter_table('outbox_mails') as batch:
        batch.drop_constraint(op.f('ck_outbox_mails_kind'), type_='check')
        batch.create_check_constraint(
            op.f('ck_outbox_mails_kind'), "kind IN ('confirmation', 'welcome')"
        )
    op.drop_index(op.f('ix_subscribers_asked_at'), table_name='subscribers')
    with op.batch_alter_table('subscribers') as batch:
        batch.drop_constraint(op.f('ck_subscribers_status'), type_='check')
        batch.create_check_constraint(op.f('ck_subscribers_status'), f"status IN ({STATUSES})")
        batch.drop_column('asked_at')
        batch.drop_column('unread_issue')
        batch.drop_column('unread_issues')
