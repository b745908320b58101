"""indexes the desk reads a year of data by: a subscriber's events by address, the list by age

On PostgreSQL each is built CONCURRENTLY (outside a transaction): the events table of a large list holds
millions of rows, and a plain CREATE INDEX would hold back the webhook's writes while it is built. A
partitioned table takes no CONCURRENTLY: there the index is built as usual.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_webhook_events_email_lower', 'webhook_events', [sa.text('lower(email)'), 'id']),
    ('ix_subscribers_created_at_id', 'subscribers', ['created_at', 'id']),
)


def _partitioned(bind, table: str) -> bool:
    kind = bind.execute(
        sa.text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}
    ).scalar()
    return kind == 'p'


def upgrade() -> None:
    bind = op.get_bind()
    for name, table, columns in INDEXES:
        if bind.dialect.name == 'postgresql' and not _partitioned(bind, table):
            with op.get_context().autocommit_block():
                op.create_index(name, table, columns, postgresql_concurrently=True)
        else:
            op.create_index(name, table, columns)
    if bind.dialect.name == 'postgresql':
        # statistics of the new expression, which only ANALYZE gathers: without them the planner takes
        # an address to have thousands of events and walks the whole table by id for the newest 100
        op.execute('ANALYZE webhook_events')


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
