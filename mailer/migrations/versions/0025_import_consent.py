"""imports: what the rows become (confirmed on a consent the editor names, or asked to confirm by
mail), the named consent kept on each subscriber and on the job

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('subscribers', sa.Column('consent_detail', sa.String(length=200), nullable=True))
    op.add_column(
        'import_jobs',
        sa.Column('mode', sa.String(length=16), nullable=False, server_default='confirmed'),
    )
    op.add_column('import_jobs', sa.Column('consent_detail', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_column('consent_detail')
        batch_op.drop_column('mode')
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('consent_detail')
