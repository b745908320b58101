"""indexes the desk reads a year of data by: a subscriber's events by address, the list by age

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        'ix_webhook_events_email_lower', 'webhook_events', [sa.text('lower(email)')], unique=False
    )
    op.create_index(
        'ix_subscribers_created_at_id', 'subscribers', ['created_at', 'id'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_subscribers_created_at_id', table_name='subscribers')
    op.drop_index('ix_webhook_events_email_lower', table_name='webhook_events')
