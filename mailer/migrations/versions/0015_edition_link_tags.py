"""each rendered edition keeps the random key of its subscriber-link tags, so no stored value (a feed's
text or links, an editor's note) can hold a tag that is filled with a reader's signed link

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('editions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_tag', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('editions', schema=None) as batch_op:
        batch_op.drop_column('link_tag')
