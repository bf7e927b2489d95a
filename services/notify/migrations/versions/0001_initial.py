"""Notify's first schema: the dev outbox and the consumer dedupe table.

Revision ID: 0001
Revises:
"""

from alembic import op

from services.kit.consumer import PROCESSED_EVENTS_DDL_V1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE dev_outbox (
            id         bigserial PRIMARY KEY,
            channel    text        NOT NULL CHECK (channel IN ('sms', 'email')),
            recipient  text        NOT NULL,
            subject    text        NOT NULL DEFAULT '',
            body       text        NOT NULL,
            code       text,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX dev_outbox_recipient ON dev_outbox (recipient, id DESC);
    """)
    op.execute(PROCESSED_EVENTS_DDL_V1)


def downgrade() -> None:
    op.execute("DROP TABLE processed_events; DROP TABLE dev_outbox;")
