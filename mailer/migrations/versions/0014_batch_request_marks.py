"""batches record when their request starts, so a lease lapsed before it is sent again at once, and when a
probe last went out to see the webhook stream pass a lost answer

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_started_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('probe_sent_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_column('probe_sent_at')
        batch_op.drop_column('request_started_at')
