"""Enrolment of new self-paying families, and the NOKA sequence.

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
        CREATE SEQUENCE noka_seq START 6000000001 MAXVALUE 9999999999;
        CREATE TABLE enrollments (
            id               uuid        PRIMARY KEY,
            application      jsonb       NOT NULL,
            verification_id  text        NOT NULL,
            status           text        NOT NULL CHECK (status IN ('PENDING', 'COMPLETED')),
            family_id        bigint      REFERENCES families,
            created_at       timestamptz NOT NULL DEFAULT now(),
            expires_at       timestamptz NOT NULL
        );
    """)


def downgrade() -> None:
    op.execute("DROP TABLE enrollments; DROP SEQUENCE noka_seq;")
