"""Non-JKN desk bookings (a seat counter of the non-JKN quota, the booking's kind and the
non-participant's identity) and when the platform received each task time.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        -- Seats of the non-JKN quota taken (desk bookings of non-participants); never past
        -- quota_non_jkn, which the one conditional UPDATE that takes a seat guarantees.
        ALTER TABLE sessions ADD COLUMN taken_non_jkn integer NOT NULL DEFAULT 0 CHECK (taken_non_jkn >= 0);
        -- A non-JKN booking has no NOKA (noka is ''); patient_key ('NIK:…' or 'RM:…') identifies
        -- the non-participant for the one-active-booking rule.
        ALTER TABLE bookings
            ADD COLUMN kind        text NOT NULL DEFAULT 'JKN' CHECK (kind IN ('JKN', 'NON_JKN')),
            ADD COLUMN patient_key text,
            ADD CONSTRAINT bookings_non_jkn_patient CHECK (kind = 'JKN' OR (patient_key IS NOT NULL AND noka = ''));
        DROP INDEX bookings_one_active;
        CREATE UNIQUE INDEX bookings_one_active ON bookings (noka, facility_code, poli_code, date)
            WHERE status IN ('BOOKED', 'CHECKED_IN', 'SERVING') AND kind = 'JKN';
        CREATE UNIQUE INDEX bookings_one_active_non_jkn ON bookings (patient_key, facility_code, poli_code, date)
            WHERE status IN ('BOOKED', 'CHECKED_IN', 'SERVING') AND kind = 'NON_JKN';
        -- When the platform received the task time (``at`` is the facility's own clock).
        ALTER TABLE booking_tasks ADD COLUMN received_at timestamptz NOT NULL DEFAULT now();
    """)


def downgrade() -> None:
    op.execute("""
        ALTER TABLE booking_tasks DROP COLUMN received_at;
        DELETE FROM booking_tasks WHERE booking_code IN (SELECT code FROM bookings WHERE kind = 'NON_JKN');
        DELETE FROM bookings WHERE kind = 'NON_JKN';
        DROP INDEX bookings_one_active_non_jkn;
        DROP INDEX bookings_one_active;
        CREATE UNIQUE INDEX bookings_one_active ON bookings (noka, facility_code, poli_code, date)
            WHERE status IN ('BOOKED', 'CHECKED_IN', 'SERVING');
        ALTER TABLE bookings DROP CONSTRAINT bookings_non_jkn_patient, DROP COLUMN patient_key, DROP COLUMN kind;
        ALTER TABLE sessions DROP COLUMN taken_non_jkn;
    """)
