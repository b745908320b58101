"""an edition's subject and preheader follow its stories unless an editor wrote their own: a flag
for each. A subject of an edition not yet sent may have been written by an editor before the flags,
and nothing tells which: it counts as edited (kept, with a "use the default" button on the desk)
rather than be overwritten by the next change

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('editions', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('subject_edited', sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column('preheader_edited', sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.get_bind().execute(
        sa.text(
            "UPDATE editions SET subject_edited = :yes, preheader_edited = :yes "
            "WHERE started_at IS NULL AND issue_id IN "
            "(SELECT id FROM issues WHERE status IN ('draft', 'scheduled'))"
        ),
        {"yes": True},
    )


def downgrade() -> None:
    with op.batch_alter_table('editions', schema=None) as batch_op:
        batch_op.drop_column('preheader_edited')
        batch_op.drop_column('subject_edited')
