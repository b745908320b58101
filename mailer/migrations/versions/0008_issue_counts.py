"""an issue's counts, stored for the dashboard and /metrics

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'issue_counts',
        sa.Column('issue_id', sa.Integer(), nullable=False),
        sa.Column('counted_at', sa.DateTime(), nullable=False),
        sa.Column('deliveries', sa.JSON(), nullable=False),
        sa.Column('stats', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], name=op.f('fk_issue_counts_issue_id_issues'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('issue_id', name=op.f('pk_issue_counts')),
    )


def downgrade() -> None:
    op.drop_table('issue_counts')
