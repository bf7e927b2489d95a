"""Accounts, pending registrations, sessions and refresh tokens.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE accounts (
            id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
            participant_id  uuid        UNIQUE,
            noka            text        NOT NULL UNIQUE,
            nik             text        NOT NULL UNIQUE,
            name            text        NOT NULL,
            birth_date      date        NOT NULL,
            phone           text        NOT NULL,
            email           text        UNIQUE,
            email_verified  boolean     NOT NULL DEFAULT false,
            password_hash   text        NOT NULL,
            pin_hash        text,
            created_at      timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE registrations (
            id               uuid        PRIMARY KEY,
            participant_id   uuid        NOT NULL,
            noka             text        NOT NULL,
            nik              text        NOT NULL,
            name             text        NOT NULL,
            birth_date       date        NOT NULL,
            phone            text        NOT NULL,
            email            text,
            password_hash    text        NOT NULL,
            verification_id  text        NOT NULL,
            status           text        NOT NULL CHECK (status IN ('PENDING_VERIFICATION', 'COMPLETED')),
            created_at       timestamptz NOT NULL DEFAULT now(),
            expires_at       timestamptz NOT NULL
        );
        CREATE TABLE sessions (
            id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
            account_id  uuid        NOT NULL REFERENCES accounts,
            device      text        NOT NULL DEFAULT '',
            created_at  timestamptz NOT NULL DEFAULT now(),
            last_seen   timestamptz NOT NULL DEFAULT now(),
            revoked_at  timestamptz
        );
        CREATE INDEX sessions_account ON sessions (account_id) WHERE revoked_at IS NULL;
        CREATE TABLE refresh_tokens (
            token_hash  text        PRIMARY KEY,
            session_id  uuid        NOT NULL REFERENCES sessions,
            issued_at   timestamptz NOT NULL DEFAULT now(),
            rotated_at  timestamptz,
            expires_at  timestamptz NOT NULL
        );
        CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
    """)


def downgrade() -> None:
    op.execute("DROP TABLE refresh_tokens; DROP TABLE sessions; DROP TABLE registrations; DROP TABLE accounts;")
