"""editor roles: an editor curates, tests and schedules; an admin also sends, cancels, and keeps subscribers
and accounts. Every account made before roles becomes an admin, so nobody is locked out.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('editors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=16), server_default='editor', nullable=False))
        batch_op.create_check_constraint(op.f('ck_editors_role'), "role IN ('editor', 'admin')")
    op.execute("UPDATE editors SET role = 'admin'")  # before roles, every account could do everything


def downgrade() -> None:
    with op.batch_alter_table('editors', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_editors_role'), type_='check')
        batch_op.drop_column('role')
