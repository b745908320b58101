"""per-edition send start, drafting runs, editor accounts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('editions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('started_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_editions_send_at'), ['send_at'], unique=False)
    # Editions of issues already sent or in flight were started with their issue.
    op.execute(
        "UPDATE editions SET started_at = (SELECT issues.started_at FROM issues WHERE issues.id = editions.issue_id) "
        "WHERE issue_id IN (SELECT id FROM issues WHERE started_at IS NOT NULL)"
    )
    op.create_table(
        'draft_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ran_at', sa.DateTime(), nullable=False),
        sa.Column('window_start', sa.DateTime(), nullable=False),
        sa.Column('window_end', sa.DateTime(), nullable=False),
        sa.Column('stories', sa.Integer(), nullable=False),
        sa.Column('issue_number', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_draft_runs')),
    )
    op.create_index(op.f('ix_draft_runs_ran_at'), 'draft_runs', ['ran_at'], unique=False)
    op.create_table(
        'editors',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('password_hash', sa.String(length=300), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_editors')),
        sa.UniqueConstraint('name', name=op.f('uq_editors_name')),
    )


def downgrade() -> None:
    op.drop_table('editors')
    op.drop_index(op.f('ix_draft_runs_ran_at'), table_name='draft_runs')
    op.drop_table('draft_runs')
    with op.batch_alter_table('editions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_editions_send_at'))
        batch_op.drop_column('started_at')
