"""the transactional outbox: a sign-up's confirmation mail is a row written in the sign-up's own
transaction, sent by a worker and queued again by beat's sweep after a broker outage, so an outage
delays the mail and never loses it

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outbox_mails',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('subscriber_id', sa.Integer(), nullable=False),
        sa.Column('lang', sa.String(length=8), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('queued_at', sa.DateTime(), nullable=True),
        sa.Column('claimed_until', sa.DateTime(), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'skipped', 'failed')", name=op.f('ck_outbox_mails_status')),
        sa.CheckConstraint("kind IN ('confirmation')", name=op.f('ck_outbox_mails_kind')),
        sa.CheckConstraint("lang IN ('ko', 'en', 'both')", name=op.f('ck_outbox_mails_lang')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_mails')),
    )
    op.create_index('ix_outbox_mails_status_queued_at', 'outbox_mails', ['status', 'queued_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_outbox_mails_status_queued_at', table_name='outbox_mails')
    op.drop_table('outbox_mails')
