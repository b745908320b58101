"""the ledger and the webhook events partitioned by issue on PostgreSQL (LIST on issue_id), so that
retention drops an issue's partition instead of deleting its rows; SQLite keeps plain tables

Migrates in place: each table is renamed aside, a partitioned table of the same columns (and the same
id sequence) takes its name, every row is moved, the keys are made again, and the old table dropped.
On PostgreSQL a key must hold the partition key: the ledger's primary key becomes (id, issue_id); the
events' dedupe key becomes (issue_id, sg_event_id) with NULLS NOT DISTINCT (PostgreSQL 15 or later),
which holds the same as sg_event_id alone: SendGrid sends a retried event with its custom_args, the
issue id among them, unchanged.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07
"""

from alembic import op


revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

LEDGER_STORAGE = ' WITH (fillfactor = 50)'
UNFINISHED = "('scheduled', 'sending', 'paused')"


def _issue_ids() -> list[int]:
    """Issues that get their partitions now: those with rows, and those that may send. Rows of an
    issue we no longer hold go to the default partition."""
    return list(
        op.get_bind()
        .exec_driver_sql(
            'SELECT id FROM issues WHERE id IN (SELECT DISTINCT issue_id FROM deliveries_old)'
            ' OR id IN (SELECT DISTINCT issue_id FROM webhook_events_old)'
            f' OR status IN {UNFINISHED} ORDER BY id'
        )
        .scalars()
    )


def _aside(table: str, constraints: list[str], indexes: list[str]) -> None:
    """Rename the table aside, with nothing that holds a name the new table needs; its id sequence
    outlives it."""
    op.execute(f'ALTER TABLE {table} RENAME TO {table}_old')
    for constraint in constraints:
        op.execute(f'ALTER TABLE {table}_old DROP CONSTRAINT {constraint}')
    for index in indexes:
        op.execute(f'DROP INDEX {index}')
    op.execute(f'ALTER SEQUENCE {table}_id_seq OWNED BY NONE')


def _move_and_drop(table: str) -> None:
    op.execute(f'INSERT INTO {table} SELECT * FROM {table}_old')
    op.execute(f'DROP TABLE {table}_old')
    op.execute(f'ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id')


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    if bind.dialect.server_version_info < (15,):
        raise RuntimeError(
            'PostgreSQL 15 or later is needed: the webhook events are deduplicated by a key'
            ' with NULLS NOT DISTINCT'
        )
    _aside(
        'deliveries',
        ['pk_deliveries', 'uq_deliveries_issue_id_subscriber_id'],
        ['ix_deliveries_batch_id'],
    )
    _aside(
        'webhook_events',
        ['pk_webhook_events', 'uq_webhook_events_sg_event_id'],
        ['ix_webhook_events_event', 'ix_webhook_events_issue_id', 'ix_webhook_events_processed_at'],
    )
    ids = _issue_ids()
    for table, storage in (('deliveries', LEDGER_STORAGE), ('webhook_events', '')):
        op.execute(
            f'CREATE TABLE {table} (LIKE {table}_old INCLUDING DEFAULTS) PARTITION BY LIST (issue_id)'
        )
        op.execute(f'CREATE TABLE {table}_default PARTITION OF {table} DEFAULT{storage}')
        for issue_id in ids:
            op.execute(
                f'CREATE TABLE {table}_p{issue_id} PARTITION OF {table}'
                f' FOR VALUES IN ({int(issue_id)}){storage}'
            )
    op.execute('CREATE TABLE webhook_events_none PARTITION OF webhook_events FOR VALUES IN (NULL)')
    # rows first, keys after: one index build per partition instead of an index update per row
    _move_and_drop('deliveries')
    _move_and_drop('webhook_events')
    op.execute('ALTER TABLE deliveries ADD CONSTRAINT pk_deliveries PRIMARY KEY (id, issue_id)')
    op.execute(
        'ALTER TABLE deliveries ADD CONSTRAINT uq_deliveries_issue_id_subscriber_id'
        ' UNIQUE (issue_id, subscriber_id)'
    )
    op.execute('CREATE INDEX ix_deliveries_batch_id ON deliveries (batch_id)')
    # No primary key: its columns may not be NULL, and an event of no issue has a NULL issue_id.
    op.execute(
        'ALTER TABLE webhook_events ADD CONSTRAINT uq_webhook_events_issue_id_sg_event_id'
        ' UNIQUE NULLS NOT DISTINCT (issue_id, sg_event_id)'
    )
    op.execute(
        'ALTER TABLE webhook_events ADD CONSTRAINT uq_webhook_events_id_issue_id'
        ' UNIQUE NULLS NOT DISTINCT (id, issue_id)'
    )
    op.execute('CREATE INDEX ix_webhook_events_event ON webhook_events (event)')
    op.execute('CREATE INDEX ix_webhook_events_processed_at ON webhook_events (processed_at)')
    op.execute('ANALYZE deliveries')
    op.execute('ANALYZE webhook_events')


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    _aside(
        'deliveries',
        ['pk_deliveries', 'uq_deliveries_issue_id_subscriber_id'],
        ['ix_deliveries_batch_id'],
    )
    _aside(
        'webhook_events',
        ['uq_webhook_events_issue_id_sg_event_id', 'uq_webhook_events_id_issue_id'],
        ['ix_webhook_events_event', 'ix_webhook_events_processed_at'],
    )
    op.execute(f'CREATE TABLE deliveries (LIKE deliveries_old INCLUDING DEFAULTS){LEDGER_STORAGE}')
    op.execute('CREATE TABLE webhook_events (LIKE webhook_events_old INCLUDING DEFAULTS)')
    _move_and_drop('deliveries')
    _move_and_drop('webhook_events')
    # one event id under two issues cannot be kept by a key on the id alone: the first stored stays
    op.execute(
        'DELETE FROM webhook_events a USING webhook_events b'
        ' WHERE a.sg_event_id = b.sg_event_id AND a.id > b.id'
    )
    op.execute('ALTER TABLE deliveries ADD CONSTRAINT pk_deliveries PRIMARY KEY (id)')
    op.execute(
        'ALTER TABLE deliveries ADD CONSTRAINT uq_deliveries_issue_id_subscriber_id'
        ' UNIQUE (issue_id, subscriber_id)'
    )
    op.execute('CREATE INDEX ix_deliveries_batch_id ON deliveries (batch_id)')
    op.execute('ALTER TABLE webhook_events ADD CONSTRAINT pk_webhook_events PRIMARY KEY (id)')
    op.execute(
        'ALTER TABLE webhook_events ADD CONSTRAINT uq_webhook_events_sg_event_id UNIQUE (sg_event_id)'
    )
    op.execute('CREATE INDEX ix_webhook_events_event ON webhook_events (event)')
    op.execute('CREATE INDEX ix_webhook_events_issue_id ON webhook_events (issue_id)')
    op.execute('CREATE INDEX ix_webhook_events_processed_at ON webhook_events (processed_at)')
