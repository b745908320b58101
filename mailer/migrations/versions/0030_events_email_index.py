"""a subscriber's events indexed by address alone, without the event's id: a third of the size

(lower(email), id) holds one entry per event, each its own (the ids differ); on lower(email) alone
PostgreSQL keeps one entry per address and a list of its rows (B-tree deduplication). Measured on a
100,000-reader issue's 259,000 events: 17 MiB as the webhook wrote it, against 7 MiB; a year at a million
readers keeps four issues' events, so about 0.4 GB less. The few rows of an address (two or three per
issue kept) are sorted by id after they are read: the desk's page and an export plan as before, every
partition read through its index (tests/test_db.py, benchmarks/year.py).

On PostgreSQL a partitioned table takes no CONCURRENTLY: the index is built as usual (as 0028 did).

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

NAME, TABLE = 'ix_webhook_events_email_lower', 'webhook_events'


def _partitioned(bind) -> bool:
    kind = bind.execute(
        sa.text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": TABLE}
    ).scalar()
    return kind == 'p'


def _index(columns: list) -> None:
    bind = op.get_bind()
    op.drop_index(NAME, table_name=TABLE)
    if bind.dialect.name == 'postgresql' and not _partitioned(bind):
        with op.get_context().autocommit_block():
            op.create_index(NAME, TABLE, columns, postgresql_concurrently=True)
    else:
        op.create_index(NAME, TABLE, columns)
    if bind.dialect.name == 'postgresql':
        op.execute(f'ANALYZE {TABLE}')  # the expression's statistics, which only ANALYZE gathers


def upgrade() -> None:
    _index([sa.text('lower(email)')])


def downgrade() -> None:
    _index([sa.text('lower(email)'), 'id'])
