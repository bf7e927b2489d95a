"""Auth consumes membership's events (deduplicated).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from services.kit.consumer import PROCESSED_EVENTS_DDL_V1

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(PROCESSED_EVENTS_DDL_V1)


def downgrade() -> None:
    op.execute("DROP TABLE processed_events")
