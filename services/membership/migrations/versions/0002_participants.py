"""Participants, families, FKTP change history and premium bills.

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
        CREATE TABLE families (
            id          bigserial PRIMARY KEY,
            kk_number   text        NOT NULL UNIQUE CHECK (kk_number ~ '^[0-9]{16}$'),
            address     text        NOT NULL DEFAULT '',
            created_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE participants (
            id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
            nik            text        NOT NULL UNIQUE CHECK (nik ~ '^[0-9]{16}$'),
            noka           text        NOT NULL UNIQUE CHECK (noka ~ '^[0-9]{13}$'),
            name           text        NOT NULL,
            birth_date     date        NOT NULL,
            sex            text        NOT NULL CHECK (sex IN ('M', 'F')),
            family_id      bigint      NOT NULL REFERENCES families,
            relation       text        NOT NULL CHECK (relation IN ('HEAD', 'SPOUSE', 'CHILD', 'OTHER')),
            segment        text        NOT NULL CHECK (segment IN ('PBI_APBN', 'PBI_APBD', 'PPU', 'PBPU', 'BP')),
            care_class     smallint    NOT NULL CHECK (care_class BETWEEN 1 AND 3),
            status         text        NOT NULL CHECK (status IN ('AKTIF', 'TIDAK_AKTIF')),
            status_reason  text        CHECK (status_reason IN
                               ('TUNGGAKAN_IURAN', 'PENANGGUHAN', 'MENUNGGU_PEMBAYARAN', 'MENINGGAL')),
            fktp_code      text        NOT NULL,
            fktp_name      text        NOT NULL,
            registered_on  date        NOT NULL,
            created_at     timestamptz NOT NULL DEFAULT now(),
            CHECK ((status = 'AKTIF') = (status_reason IS NULL))
        );
        CREATE INDEX participants_family ON participants (family_id);
        CREATE TABLE fktp_changes (
            id              bigserial   PRIMARY KEY,
            participant_id  uuid        NOT NULL REFERENCES participants,
            from_code       text        NOT NULL,
            to_code         text        NOT NULL,
            to_name         text        NOT NULL,
            requested_on    date        NOT NULL,
            effective_date  date        NOT NULL,
            applied         boolean     NOT NULL DEFAULT false
        );
        CREATE INDEX fktp_changes_participant ON fktp_changes (participant_id, requested_on DESC);
        CREATE INDEX fktp_changes_due ON fktp_changes (effective_date) WHERE NOT applied;
        CREATE TABLE bills (
            participant_id  uuid        NOT NULL REFERENCES participants,
            period          text        NOT NULL CHECK (period ~ '^[0-9]{4}-[0-9]{2}$'),
            amount_idr      bigint      NOT NULL CHECK (amount_idr > 0),
            status          text        NOT NULL CHECK (status IN ('UNPAID', 'PAID')),
            paid_at         timestamptz,
            PRIMARY KEY (participant_id, period)
        );
        CREATE INDEX bills_unpaid ON bills (participant_id) WHERE status = 'UNPAID';
    """)


def downgrade() -> None:
    op.execute("DROP TABLE bills; DROP TABLE fktp_changes; DROP TABLE participants; DROP TABLE families;")
