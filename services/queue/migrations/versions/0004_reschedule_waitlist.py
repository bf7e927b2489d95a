"""Reschedules (the booking moved to and from), doctor's absences (when a booking was cancelled
is already kept) and the waitlist of full sessions.

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
        ALTER TABLE bookings
            ADD COLUMN rescheduled_to    text,
            ADD COLUMN rescheduled_from  text,
            ADD COLUMN waitlist_id       uuid;
        -- A place in a full session's line, first come first served (seq is the arrival order).
        -- While OFFERED the entry holds one of the session's seats (counted in taken_jkn).
        CREATE TABLE waitlist (
            id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
            seq               bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
            schedule_id       uuid        NOT NULL,
            date              date        NOT NULL,
            facility_code     text        NOT NULL,
            poli_code         text        NOT NULL,
            noka              text        NOT NULL,
            caller_noka       text        NOT NULL,
            booked_by         uuid        NOT NULL,
            referral_number   text,
            auto_accept       boolean     NOT NULL,
            status            text        NOT NULL CHECK (status IN
                                  ('WAITING', 'OFFERED', 'BOOKED', 'EXPIRED', 'CANCELLED')),
            offer_expires_at  timestamptz,
            booking_code      text,
            end_reason        text,
            created_at        timestamptz NOT NULL DEFAULT now(),
            ended_at          timestamptz,
            FOREIGN KEY (schedule_id, date) REFERENCES sessions,
            CHECK (status <> 'OFFERED' OR offer_expires_at IS NOT NULL)
        );
        -- One live entry per participant, poli and date.
        CREATE UNIQUE INDEX waitlist_one_live ON waitlist (noka, facility_code, poli_code, date)
            WHERE status IN ('WAITING', 'OFFERED');
        CREATE INDEX waitlist_line ON waitlist (schedule_id, date, seq) WHERE status IN ('WAITING', 'OFFERED');
        CREATE INDEX waitlist_offers ON waitlist (offer_expires_at) WHERE status = 'OFFERED';
        CREATE INDEX waitlist_live_by_date ON waitlist (date) WHERE status IN ('WAITING', 'OFFERED');
        CREATE INDEX waitlist_by_booker ON waitlist (booked_by, created_at DESC);
        CREATE INDEX waitlist_by_noka ON waitlist (noka, created_at DESC);
    """)


def downgrade() -> None:
    op.execute("DROP TABLE waitlist; ALTER TABLE bookings DROP COLUMN rescheduled_to,"
               " DROP COLUMN rescheduled_from, DROP COLUMN waitlist_id;")
