"""editors' sessions, kept on the server so that logout, a password change and logout-all end them

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'editor_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('editor_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_used_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['editor_id'], ['editors.id'], name=op.f('fk_editor_sessions_editor_id_editors'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_editor_sessions')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_editor_sessions_token_hash')),
    )
    op.create_index(op.f('ix_editor_sessions_editor_id'), 'editor_sessions', ['editor_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_editor_sessions_editor_id'), table_name='editor_sessions')
    op.drop_table('editor_sessions')
