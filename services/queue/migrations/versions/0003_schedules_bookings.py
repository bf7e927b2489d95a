"""Doctors, weekly schedules, per-date sessions (the seat counters), bookings, task times,
referrals and known medical record numbers.

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
        CREATE TABLE doctors (
            facility_code  text NOT NULL REFERENCES facilities,
            code           text NOT NULL,
            name           text NOT NULL,
            PRIMARY KEY (facility_code, code)
        );
        -- One doctor's practice at one poli: what a participant books (schedule_id).
        CREATE TABLE schedules (
            id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            facility_code  text NOT NULL,
            poli_code      text NOT NULL,
            doctor_code    text NOT NULL,
            FOREIGN KEY (facility_code, poli_code) REFERENCES polis,
            FOREIGN KEY (facility_code, doctor_code) REFERENCES doctors,
            UNIQUE (facility_code, poli_code, doctor_code)
        );
        -- Weekly practice hours (ISO weekday 1 = Monday), versioned: each version holds from
        -- valid_from to valid_until (open-ended when NULL); versions of a weekday never overlap.
        CREATE TABLE schedule_hours (
            schedule_id    uuid     NOT NULL REFERENCES schedules,
            weekday        smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
            valid_from     date     NOT NULL,
            valid_until    date     CHECK (valid_until >= valid_from),
            start_time     time     NOT NULL,
            end_time       time     NOT NULL CHECK (end_time > start_time),
            quota_jkn      integer  NOT NULL CHECK (quota_jkn >= 0),
            quota_non_jkn  integer  NOT NULL CHECK (quota_non_jkn >= 0),
            PRIMARY KEY (schedule_id, weekday, valid_from)
        );
        -- One session: a schedule on one date. Created from the weekly hours on first use
        -- (source 'weekly') or by the facility for that date (source 'override'). It holds
        -- the seat counter that bookings take with one conditional UPDATE.
        CREATE TABLE sessions (
            schedule_id    uuid     NOT NULL REFERENCES schedules,
            date           date     NOT NULL,
            start_time     time     NOT NULL,
            end_time       time     NOT NULL CHECK (end_time > start_time),
            quota_jkn      integer  NOT NULL CHECK (quota_jkn >= 0),
            quota_non_jkn  integer  NOT NULL CHECK (quota_non_jkn >= 0),
            closed         boolean  NOT NULL DEFAULT false,
            source         text     NOT NULL CHECK (source IN ('weekly', 'override')),
            taken_jkn      integer  NOT NULL DEFAULT 0 CHECK (taken_jkn >= 0),
            last_seq       integer  NOT NULL DEFAULT 0,
            PRIMARY KEY (schedule_id, date),
            CHECK (taken_jkn <= quota_jkn OR closed)
        );
        CREATE TABLE referrals (
            number             char(19) PRIMARY KEY,
            noka               text     NOT NULL,
            from_facility      text     NOT NULL REFERENCES facilities,
            to_facility        text     NOT NULL REFERENCES facilities,
            poli_code          text     NOT NULL,
            visit_type         smallint NOT NULL DEFAULT 1,
            issued_on          date     NOT NULL,
            valid_until        date     NOT NULL
        );
        CREATE INDEX referrals_noka ON referrals (noka);
        CREATE TABLE referral_serials (
            facility_code  text    NOT NULL,
            period         text    NOT NULL,
            last_serial    integer NOT NULL,
            PRIMARY KEY (facility_code, period)
        );
        CREATE TABLE bookings (
            code                   text        PRIMARY KEY,
            schedule_id            uuid        NOT NULL,
            date                   date        NOT NULL,
            facility_code          text        NOT NULL,
            poli_code              text        NOT NULL,
            seq                    integer     NOT NULL,
            noka                   text        NOT NULL,
            booked_by              uuid        NOT NULL,
            status                 text        NOT NULL CHECK (status IN
                                       ('BOOKED', 'CHECKED_IN', 'SERVING', 'DONE', 'CANCELLED', 'NO_SHOW')),
            visit_type             smallint    NOT NULL DEFAULT 0,
            referral_number        text,
            medical_record_number  text,
            new_patient            boolean     NOT NULL,
            idempotency_key        text,
            request_fingerprint    text,
            first_response         bytea,      -- the 201 body an Idempotency-Key replay returns
            created_at             timestamptz NOT NULL DEFAULT now(),
            checked_in_at          timestamptz,
            cancelled_at           timestamptz,
            cancelled_by           text CHECK (cancelled_by IN ('participant', 'facility')),
            cancel_reason          text,
            reminder_sent          boolean     NOT NULL DEFAULT false,
            turn_near_sent         boolean     NOT NULL DEFAULT false,
            FOREIGN KEY (schedule_id, date) REFERENCES sessions,
            UNIQUE (schedule_id, date, seq),
            CONSTRAINT bookings_idempotency UNIQUE (booked_by, idempotency_key)
        );
        -- Booking rule 3: one active booking per participant, poli and date.
        CREATE UNIQUE INDEX bookings_one_active ON bookings (noka, facility_code, poli_code, date)
            WHERE status IN ('BOOKED', 'CHECKED_IN', 'SERVING');
        CREATE INDEX bookings_by_booker ON bookings (booked_by, date DESC);
        CREATE INDEX bookings_by_noka ON bookings (noka, date DESC);
        CREATE INDEX bookings_by_facility_date ON bookings (facility_code, date, poli_code, seq);
        CREATE INDEX bookings_still_booked ON bookings (date) WHERE status = 'BOOKED';
        CREATE TABLE booking_tasks (
            booking_code  text        NOT NULL REFERENCES bookings,
            task_id       smallint    NOT NULL,
            at            timestamptz NOT NULL,
            PRIMARY KEY (booking_code, task_id)
        );
        -- Medical record numbers participants gave at a facility (new vs returning patient).
        CREATE TABLE medical_records (
            facility_code          text NOT NULL,
            noka                   text NOT NULL,
            medical_record_number  text NOT NULL,
            PRIMARY KEY (facility_code, noka)
        );
    """)


def downgrade() -> None:
    op.execute("DROP TABLE medical_records, booking_tasks, bookings, referral_serials, referrals, sessions,"
               " schedule_hours, schedules, doctors;")
