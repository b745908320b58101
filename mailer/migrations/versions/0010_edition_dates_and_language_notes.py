"""each edition remembers the time zone of its send and the day written on it; story notes per language

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

import re

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")


def upgrade() -> None:
    with op.batch_alter_table('editions') as batch:
        batch.add_column(sa.Column('send_tz', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('dated', sa.Date(), nullable=True))
    with op.batch_alter_table('issue_stories') as batch:
        batch.add_column(sa.Column('note_ko', sa.Text(), nullable=True))
        batch.add_column(sa.Column('note_en', sa.Text(), nullable=True))
    # A note written before notes had a language goes to the language it is written in.
    stories = sa.table('issue_stories', sa.column('issue_id'), sa.column('article_id'), sa.column('note'),
                       sa.column('note_ko'), sa.column('note_en'))
    conn = op.get_bind()
    for issue_id, article_id, note in conn.execute(
            sa.select(stories.c.issue_id, stories.c.article_id, stories.c.note).where(stories.c.note.is_not(None))):
        side = 'note_ko' if HANGUL.search(note) else 'note_en'
        conn.execute(stories.update().where(stories.c.issue_id == issue_id, stories.c.article_id == article_id)
                     .values({side: note}))
    with op.batch_alter_table('issue_stories') as batch:
        batch.drop_column('note')


def downgrade() -> None:
    with op.batch_alter_table('issue_stories') as batch:
        batch.add_column(sa.Column('note', sa.Text(), nullable=True))
    stories = sa.table('issue_stories', sa.column('note'), sa.column('note_ko'), sa.column('note_en'))
    op.get_bind().execute(stories.update().values(note=sa.func.coalesce(stories.c.note_ko, stories.c.note_en)))
    with op.batch_alter_table('issue_stories') as batch:
        batch.drop_column('note_en')
        batch.drop_column('note_ko')
    with op.batch_alter_table('editions') as batch:
        batch.drop_column('dated')
        batch.drop_column('send_tz')
