"""the subscribers list at a million readers: an index by language and age, and on PostgreSQL one by
the address's trigrams

The desk's list of one language counted its readers and picked its page by reading the whole table (a
third of a million rows tested for their language at 1M readers); with the language ahead of the list's
order, both read only that language's part of an index. A search by a fragment of an address tested
every address (about 150 ms at 1M, 400 ms paged deep); PostgreSQL's pg_trgm finds the matching
addresses from a GIN index of their trigrams instead (a single reader in ~10 ms). pg_trgm ships with
PostgreSQL (contrib) and is trusted (a database owner may create it); where it cannot be had the
search still answers, by reading the table, and a warning says why it is slower.

Built CONCURRENTLY on PostgreSQL (outside a transaction), as 0028's: the table may hold millions of
readers, and signing up must not wait for it.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-08
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None

log = logging.getLogger('alembic.runtime.migration')

BY_LANG = ('ix_subscribers_lang_created_at_id', ['lang', 'created_at', 'id'])
TRIGRAMS = 'ix_subscribers_email_trgm'


def _trigrams(bind) -> bool:
    """pg_trgm in this database, created here when the server has it."""
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).scalar()
    if not available:
        log.warning('pg_trgm is not installed: searching subscribers by address reads the table')
        return False
    op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    return True


def upgrade() -> None:
    bind = op.get_bind()
    name, columns = BY_LANG
    if bind.dialect.name != 'postgresql':
        op.create_index(name, 'subscribers', columns)
        return
    with op.get_context().autocommit_block():
        op.create_index(name, 'subscribers', columns, postgresql_concurrently=True)
        if _trigrams(bind):
            op.create_index(
                TRIGRAMS,
                'subscribers',
                ['email'],
                postgresql_using='gin',
                postgresql_ops={'email': 'gin_trgm_ops'},
                postgresql_concurrently=True,
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'DROP INDEX IF EXISTS {TRIGRAMS}')
    op.drop_index(BY_LANG[0], table_name='subscribers')
