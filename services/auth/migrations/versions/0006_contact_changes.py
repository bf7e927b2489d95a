"""Email and phone changes awaiting their code.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE contact_changes (
            id               uuid        PRIMARY KEY,
            account_id       uuid        NOT NULL REFERENCES accounts,
            kind             text        NOT NULL CHECK (kind IN ('email', 'phone')),
            new_value        text        NOT NULL,
            verification_id  text        NOT NULL,
            completed_at     timestamptz,
            expires_at       timestamptz NOT NULL
        );
    """)


def downgrade() -> None:
    op.execute("DROP TABLE contact_changes")
