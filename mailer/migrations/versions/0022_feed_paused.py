"""feeds: a paused flag, so the desk can stop a feed's ingest without removing its stories

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        'feeds', sa.Column('paused', sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column('feeds', 'paused')
