"""batches count their recipients suppressed at send time and refused by the provider, so progress tells
sent, cancelled, failed and suppressed apart without counting the ledger; deliveries dropped at
send time read `suppressed` instead of `cancelled`

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suppressed', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('invalid', sa.Integer(), server_default='0', nullable=False))
    # Before this, a recipient dropped at send time was `cancelled` like one of a cancelled batch: in a batch
    # that was not cancelled, it can only have been dropped. (Through the batch_id index, once per row.)
    op.execute("UPDATE deliveries SET status = 'suppressed' WHERE status = 'cancelled' AND batch_id IN "
               "(SELECT id FROM batches WHERE status <> 'cancelled')")
    for column, status in (('suppressed', 'suppressed'), ('invalid', 'invalid')):
        op.execute(f"UPDATE batches SET {column} = (SELECT count(*) FROM deliveries "
                   f"WHERE deliveries.batch_id = batches.id AND deliveries.status = '{status}') "
                   f"WHERE EXISTS (SELECT 1 FROM deliveries WHERE deliveries.batch_id = batches.id "
                   f"AND deliveries.status = '{status}')")


def downgrade() -> None:
    op.execute("UPDATE deliveries SET status = 'cancelled' WHERE status = 'suppressed'")
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_column('invalid')
        batch_op.drop_column('suppressed')
