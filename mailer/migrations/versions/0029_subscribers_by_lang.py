"""the subscribers list filtered by language: an index by language and age

The desk's list of one language counted its readers and picked its page by reading the whole table (a
third of a million rows tested for their language at 1M readers); with the language ahead of the list's
order, both read only that language's part of an index. Built CONCURRENTLY on PostgreSQL (outside a
transaction), as 0028's: the table may hold millions of readers, and signing up must not wait for it.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

NAME, TABLE, COLUMNS = 'ix_subscribers_lang_created_at_id', 'subscribers', ['lang', 'created_at', 'id']


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.create_index(NAME, TABLE, COLUMNS, postgresql_concurrently=True)
    else:
        op.create_index(NAME, TABLE, COLUMNS)


def downgrade() -> None:
    op.drop_index(NAME, table_name=TABLE)
