"""an outbox kind that is no mail: SendGrid asked to forget a bounce once its reader signed up again

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08
"""

from alembic import op


revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

KINDS = "'confirmation', 'welcome', 'reengage'"


def upgrade() -> None:
    with op.batch_alter_table('outbox_mails') as batch:
        batch.drop_constraint(op.f('ck_outbox_mails_kind'), type_='check')
        batch.create_check_constraint(
            op.f('ck_outbox_mails_kind'), f"kind IN ({KINDS}, 'forget_bounce')"
        )


def downgrade() -> None:
    op.execute("DELETE FROM outbox_mails WHERE kind = 'forget_bounce'")
    with op.batch_alter_table('outbox_mails') as batch:
        batch.drop_constraint(op.f('ck_outbox_mails_kind'), type_='check')
        batch.create_check_constraint(op.f('ck_outbox_mails_kind'), f"kind IN ({KINDS})")
