"""Auth's first schema: the transactional outbox (accounts arrive with issue 5).

Revision ID: 0001
Revises:
"""

from alembic import op

from services.kit.outbox import OUTBOX_DDL_V1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(OUTBOX_DDL_V1)


def downgrade() -> None:
    op.execute("DROP TABLE outbox")
