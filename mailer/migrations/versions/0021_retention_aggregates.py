"""retention: an issue's links and hourly figures rolled up, its counts made final before raw rows go,
and the subscriber's engagement facts kept on the subscriber

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'issue_hours',
        sa.Column('issue_id', sa.Integer(), nullable=False),
        sa.Column('lang', sa.String(length=4), nullable=False),
        sa.Column('event', sa.String(length=32), nullable=False),
        sa.Column('hour', sa.Integer(), nullable=False),
        sa.Column('events', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('issue_id', 'lang', 'event', 'hour'),
    )
    op.create_table(
        'issue_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issue_id', sa.Integer(), nullable=False),
        sa.Column('lang', sa.String(length=4), nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('clicks', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_issue_links_issue_id', 'issue_links', ['issue_id'])
    with op.batch_alter_table('issue_counts') as batch:
        batch.add_column(sa.Column('final_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('subscribers') as batch:
        batch.add_column(sa.Column('last_delivered_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('last_engaged_at', sa.DateTime(), nullable=True))
    # Stored counts are a cache: cleared, every issue is counted again (and its links and hours rolled
    # up) the next time it is shown, so that the report, which now reads the aggregates, misses none.
    op.execute("DELETE FROM issue_counts")
    # The engagement facts of the events stored so far (machine opens included: older payloads were
    # not told apart)
    for column, kinds in (
        ('last_delivered_at', "('delivered')"),
        ('last_engaged_at', "('open', 'click')"),
    ):
        op.execute(
            f"UPDATE subscribers SET {column} = (SELECT max(e.occurred_at) FROM webhook_events e "
            f"JOIN deliveries d ON d.id = e.delivery_id WHERE d.subscriber_id = subscribers.id "
            f"AND e.event IN {kinds})"
        )


def downgrade() -> None:
    with op.batch_alter_table('subscribers') as batch:
        batch.drop_column('last_engaged_at')
        batch.drop_column('last_delivered_at')
    with op.batch_alter_table('issue_counts') as batch:
        batch.drop_column('final_at')
    op.drop_index('ix_issue_links_issue_id', table_name='issue_links')
    op.drop_table('issue_links')
    op.drop_table('issue_hours')
