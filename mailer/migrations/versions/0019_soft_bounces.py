"""soft bounces count per subscriber (issues in a row), and machine opens filed apart from human ones

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('soft_bounces', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.add_column(sa.Column('soft_bounce_issue', sa.Integer(), nullable=True))
    # Opens stored before machine opens were told apart: those SendGrid marked as a machine's
    # (sg_machine_open: true) are filed under their own name, so no figure counts them as a reader's.
    # Compared as JSON text, not cast: a stored event may hold anything under that key.
    if op.get_bind().dialect.name == 'postgresql':
        marked = "payload->>'sg_machine_open' = 'true'"
    else:
        marked = "json_type(payload, '$.sg_machine_open') = 'true'"
    op.execute(
        sa.text(f"UPDATE webhook_events SET event = 'machine_open' WHERE event = 'open' AND {marked}")
    )


def downgrade() -> None:
    events = sa.table('webhook_events', sa.column('event', sa.String(32)))
    op.execute(events.update().where(events.c.event == 'machine_open').values(event='open'))
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('soft_bounce_issue')
        batch_op.drop_column('soft_bounces')
