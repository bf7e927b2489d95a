"""Premium payments through virtual accounts.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE payments (
            id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
            family_id        bigint      NOT NULL REFERENCES families,
            virtual_account  text        NOT NULL,
            amount_idr       bigint      NOT NULL CHECK (amount_idr > 0),
            periods          text[]      NOT NULL,
            status           text        NOT NULL CHECK (status IN ('PENDING', 'PAID', 'EXPIRED')),
            created_at       timestamptz NOT NULL DEFAULT now(),
            expires_at       timestamptz NOT NULL,
            paid_at          timestamptz,
            provider_ref     text        UNIQUE
        );
        CREATE UNIQUE INDEX payments_open_virtual_account ON payments (virtual_account) WHERE status = 'PENDING';
        CREATE INDEX payments_family ON payments (family_id, created_at DESC);
    """)


def downgrade() -> None:
    op.execute("DROP TABLE payments")
