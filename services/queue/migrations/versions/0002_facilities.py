"""Facilities (FKTP and FKRTL) and their polyclinics.

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
        CREATE TABLE facilities (
            code     text             PRIMARY KEY CHECK (code ~ '^[0-9A-Z]{8}$'),
            name     text             NOT NULL,
            type     text             NOT NULL CHECK (type IN ('FKTP', 'FKRTL')),
            address  text             NOT NULL DEFAULT '',
            lat      double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
            lon      double precision NOT NULL CHECK (lon BETWEEN -180 AND 180)
        );
        CREATE INDEX facilities_location ON facilities (lat, lon);
        CREATE INDEX facilities_type_name ON facilities (type, lower(name) text_pattern_ops);
        CREATE TABLE polis (
            facility_code  text NOT NULL REFERENCES facilities,
            code           text NOT NULL,
            name           text NOT NULL,
            PRIMARY KEY (facility_code, code)
        );
    """)


def downgrade() -> None:
    op.execute("DROP TABLE polis; DROP TABLE facilities;")
