"""the welcome mail: a second kind of outbox row, written with the confirmation

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from alembic import op


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_mails', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_outbox_mails_kind'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_outbox_mails_kind'), "kind IN ('confirmation', 'welcome')"
        )


def downgrade() -> None:
    op.execute("DELETE FROM outbox_mails WHERE kind = 'welcome'")
    with op.batch_alter_table('outbox_mails', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_outbox_mails_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_outbox_mails_kind'), "kind IN ('confirmation')")
