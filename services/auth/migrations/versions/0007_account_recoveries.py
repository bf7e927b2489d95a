"""Account recoveries (CONTRACT.md §7): identity → the verified email's code → the new phone's
code → pending until ``effective_at``; at most one pending per account.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE account_recoveries (
            id                     uuid        PRIMARY KEY,
            account_id             uuid        REFERENCES accounts,
            new_phone              text        NOT NULL,
            status                 text        NOT NULL DEFAULT 'EMAIL_PENDING' CHECK (status IN
                                   ('EMAIL_PENDING', 'PHONE_PENDING', 'SCHEDULED', 'APPLIED', 'CANCELLED')),
            email_verification_id  text,
            phone_verification_id  text,
            created_at             timestamptz NOT NULL DEFAULT now(),
            expires_at             timestamptz NOT NULL,
            effective_at           timestamptz,
            finished_at            timestamptz
        );
        CREATE UNIQUE INDEX account_recoveries_one_scheduled ON account_recoveries (account_id)
            WHERE status = 'SCHEDULED';
        CREATE INDEX account_recoveries_due ON account_recoveries (effective_at) WHERE status = 'SCHEDULED';
    """)


def downgrade() -> None:
    op.execute("DROP TABLE account_recoveries")
