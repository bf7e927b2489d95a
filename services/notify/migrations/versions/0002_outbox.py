"""Notify queues its own send requests through the transactional outbox.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from services.kit.outbox import OUTBOX_DDL_V1

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(OUTBOX_DDL_V1)


def downgrade() -> None:
    op.execute("DROP TABLE outbox")
