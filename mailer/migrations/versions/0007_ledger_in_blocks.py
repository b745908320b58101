"""an edition's ledger written in blocks: how far it has got, who is writing it, when it was done

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('editions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ledger_through', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ledger_heartbeat', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('ledger_done_at', sa.DateTime(), nullable=True))
    # Editions started before this were snapshotted whole, in one transaction.
    op.execute("UPDATE editions SET ledger_done_at = started_at WHERE started_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('editions', schema=None) as batch_op:
        batch_op.drop_column('ledger_done_at')
        batch_op.drop_column('ledger_heartbeat')
        batch_op.drop_column('ledger_through')
