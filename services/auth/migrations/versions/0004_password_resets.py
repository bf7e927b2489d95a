"""Password resets.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE password_resets (
            id               uuid        PRIMARY KEY,
            account_id       uuid        REFERENCES accounts,
            verification_id  text,
            completed_at     timestamptz,
            created_at       timestamptz NOT NULL DEFAULT now(),
            expires_at       timestamptz NOT NULL
        );
    """)


def downgrade() -> None:
    op.execute("DROP TABLE password_resets")
