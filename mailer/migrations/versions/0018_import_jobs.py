"""a desk upload's subscriber import runs as a task, and its row records the file, the progress and the
outcome for the desk's job page

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'import_jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('path', sa.String(length=1000), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('requested_by', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('bytes_total', sa.Integer(), nullable=False),
        sa.Column('bytes_done', sa.Integer(), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('added', sa.Integer(), nullable=False),
        sa.Column('existing', sa.Integer(), nullable=False),
        sa.Column('suppressed', sa.Integer(), nullable=False),
        sa.Column('bad', sa.Integer(), nullable=False),
        sa.Column('bad_rows', sa.JSON(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_import_jobs_status')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_jobs')),
    )


def downgrade() -> None:
    op.drop_table('import_jobs')
