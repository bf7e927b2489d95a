"""The pending email verification of an account.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE accounts ADD COLUMN email_verification_id text")


def downgrade() -> None:
    op.execute("ALTER TABLE accounts DROP COLUMN email_verification_id")
