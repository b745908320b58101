"""two-factor login for desk accounts: an encrypted TOTP secret, when it was turned on, the last time
step used (no code twice), and the hashed recovery codes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('editors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('totp_enabled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
    op.create_table(
        'editor_recovery_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('editor_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['editor_id'], ['editors.id'], name=op.f('fk_editor_recovery_codes_editor_id_editors'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_editor_recovery_codes')),
    )
    op.create_index(op.f('ix_editor_recovery_codes_editor_id'), 'editor_recovery_codes', ['editor_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_editor_recovery_codes_editor_id'), table_name='editor_recovery_codes')
    op.drop_table('editor_recovery_codes')
    with op.batch_alter_table('editors', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_enabled_at')
        batch_op.drop_column('totp_secret')
