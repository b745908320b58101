"""an edition's send time goes out only once approved: who approved it and when. A plain editor's
schedule waits for an admin's approval; a send time set before approvals counts as approved, so an
upgrade stops no send already planned

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('editions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approved_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('approved_by', sa.String(length=100), nullable=True))
    now = datetime.now(UTC).replace(tzinfo=None)  # stored as naive UTC, as mailer.db.UTCDateTime does
    op.get_bind().execute(
        sa.text("UPDATE editions SET approved_at = :now WHERE send_at IS NOT NULL"), {"now": now}
    )


def downgrade() -> None:
    with op.batch_alter_table('editions', schema=None) as batch_op:
        batch_op.drop_column('approved_by')
        batch_op.drop_column('approved_at')
