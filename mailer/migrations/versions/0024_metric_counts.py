"""metric_counts: Prometheus counters' totals, moved from Redis at each scrape so that a Redis restart
does not take them back to zero

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'metric_counts',
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('value', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_metric_counts')),
    )


def downgrade() -> None:
    op.drop_table('metric_counts')
