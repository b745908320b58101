"""suppressions (hashes of erased or suppressed addresses) and subscription changes (consent history)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # New tables only: nothing existing is altered, so SQLite never has to copy `subscribers`
    # (dropping it during a copy would fire ON DELETE SET NULL on every delivery row).
    op.create_table('suppressions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("reason IN ('erased', 'bounced', 'complained')", name=op.f('ck_suppressions_reason')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppressions')),
    sa.UniqueConstraint('email_hash', name=op.f('uq_suppressions_email_hash'))
    )
    op.create_table('subscription_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('detail', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_subscription_changes_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_changes'))
    )
    with op.batch_alter_table('subscription_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscription_changes_subscriber_id'), ['subscriber_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('subscription_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscription_changes_subscriber_id'))

    op.drop_table('subscription_changes')
    op.drop_table('suppressions')
