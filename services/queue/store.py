"""Queue's SQL (its own database ``jkn_queue``)."""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import Any, Final, TypeAlias

import asyncpg

from services.queue import facilities

#: Reads run on the pool or inside the caller's transaction; writes take the transaction's connection.
Conn: TypeAlias = asyncpg.Pool | asyncpg.Connection


async def facility(conn: Conn, *, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT code, name, type, address, lat, lon FROM facilities WHERE code = $1", code)


async def polis_of(conn: Conn, *, codes: list[str]) -> dict[str, list[asyncpg.Record]]:
    """The polis of each facility in ``codes`` (by facility code; a facility without polis is absent)."""
    rows = await conn.fetch("SELECT facility_code, code, name FROM polis WHERE facility_code = ANY($1)"
                            " ORDER BY facility_code, code", codes)
    by_facility: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        by_facility.setdefault(row["facility_code"], []).append(row)
    return by_facility


async def search(conn: Conn, *, type_: str | None, lat: float | None,
                 lon: float | None, radius_km: float, q: str, limit: int) -> list[asyncpg.Record]:
    """Facilities nearest first inside the radius (bounding box on the index, exact distance after)."""
    pattern = f"%{q.lower()}%" if q else None
    if lat is None or lon is None:
        return await conn.fetch(
            "SELECT code, name, type, address, lat, lon, NULL::float8 AS distance_km FROM facilities"
            " WHERE ($1::text IS NULL OR type = $1) AND ($2::text IS NULL OR lower(name) LIKE $2)"
            " ORDER BY name LIMIT $3", type_, pattern, limit)
    min_lat, max_lat, min_lon, max_lon = facilities.bounding_box(lat, lon, radius_km)
    return await conn.fetch(
        "SELECT * FROM (SELECT code, name, type, address, lat, lon, 2 * 6371.0 * asin(sqrt("
        " power(sin(radians(lat - $1) / 2), 2) + cos(radians($1)) * cos(radians(lat))"
        " * power(sin(radians(lon - $2) / 2), 2))) AS distance_km FROM facilities"
        " WHERE lat BETWEEN $3 AND $4 AND lon BETWEEN $5 AND $6"
        " AND ($7::text IS NULL OR type = $7) AND ($8::text IS NULL OR lower(name) LIKE $8)) near"
        " WHERE distance_km <= $9 ORDER BY distance_km LIMIT $10",
        lat, lon, min_lat, max_lat, min_lon, max_lon, type_, pattern, radius_km, limit)


# --- doctors and schedules ------------------------------------------------------------------

SESSION_COLUMNS = ("s.schedule_id, s.date, s.start_time, s.end_time, s.quota_jkn, s.quota_non_jkn, s.closed,"
                   " s.taken_jkn, s.last_seq")
SCHEDULE_JOIN = ("FROM schedules sc JOIN facilities f ON f.code = sc.facility_code"
                 " JOIN polis p ON p.facility_code = sc.facility_code AND p.code = sc.poli_code"
                 " JOIN doctors d ON d.facility_code = sc.facility_code AND d.code = sc.doctor_code")
SCHEDULE_COLUMNS = ("sc.id AS schedule_id, sc.facility_code, f.name AS facility_name, f.type AS facility_type,"
                    " sc.poli_code, p.name AS poli_name, sc.doctor_code, d.name AS doctor_name")


async def upsert_doctor(conn: asyncpg.Connection, *, facility_code: str, code: str, name: str) -> None:
    await conn.execute("INSERT INTO doctors (facility_code, code, name) VALUES ($1, $2, $3)"
                       " ON CONFLICT (facility_code, code) DO UPDATE SET name = EXCLUDED.name",
                       facility_code, code, name)


async def ensure_poli(conn: asyncpg.Connection, *, facility_code: str, code: str, name: str | None) -> bool:
    """True when the poli exists (created when a name is given)."""
    if name:
        await conn.execute("INSERT INTO polis (facility_code, code, name) VALUES ($1, $2, $3)"
                           " ON CONFLICT (facility_code, code) DO UPDATE SET name = EXCLUDED.name",
                           facility_code, code, name)
        return True
    return await conn.fetchval("SELECT true FROM polis WHERE facility_code = $1 AND code = $2",
                               facility_code, code) or False


async def upsert_schedule(conn: asyncpg.Connection, *, facility_code: str, poli_code: str,
                          doctor_code: str) -> str:
    return str(await conn.fetchval(
        "INSERT INTO schedules (facility_code, poli_code, doctor_code) VALUES ($1, $2, $3)"
        " ON CONFLICT (facility_code, poli_code, doctor_code) DO UPDATE SET poli_code = EXCLUDED.poli_code"
        " RETURNING id", facility_code, poli_code, doctor_code))


async def replace_weekly_hours(conn: asyncpg.Connection, *, schedule_id: str, weekdays: list[int], start: time,
                               end: time, quota_jkn: int, quota_non_jkn: int, valid_from: date,
                               valid_until: date | None) -> None:
    """A new version of the weekday hours from ``valid_from``: earlier versions end the day before,
    later ones are replaced."""
    await conn.execute("DELETE FROM schedule_hours WHERE schedule_id = $1 AND weekday = ANY($2) AND valid_from >= $3",
                       schedule_id, weekdays, valid_from)
    await conn.execute(
        "UPDATE schedule_hours SET valid_until = $3::date - 1 WHERE schedule_id = $1 AND weekday = ANY($2)"
        " AND valid_from < $3 AND (valid_until IS NULL OR valid_until >= $3)", schedule_id, weekdays, valid_from)
    await conn.executemany(
        "INSERT INTO schedule_hours (schedule_id, weekday, valid_from, valid_until, start_time, end_time, quota_jkn,"
        " quota_non_jkn) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [(schedule_id, day, valid_from, valid_until, start, end, quota_jkn, quota_non_jkn) for day in weekdays])


async def lock_weekly_sessions(conn: asyncpg.Connection, *, schedule_id: str, weekdays: list[int],
                               from_date: date) -> list[asyncpg.Record]:
    """The sessions made from the weekly hours on those weekdays from ``from_date``, locked (in
    date order, like every session lock)."""
    return await conn.fetch(
        "SELECT date, taken_jkn FROM sessions WHERE schedule_id = $1 AND source = 'weekly' AND date >= $2"
        " AND extract(isodow FROM date)::int = ANY($3) ORDER BY date FOR UPDATE", schedule_id, from_date, weekdays)


async def follow_weekly_hours(conn: asyncpg.Connection, *, schedule_id: str, from_date: date) -> list[date]:
    """Sessions made from the weekly hours take the hours now in force on their date; returns the
    dates that have none any more (the caller closes them)."""
    await conn.execute(
        "UPDATE sessions s SET start_time = h.start_time, end_time = h.end_time, quota_jkn = h.quota_jkn,"
        " quota_non_jkn = h.quota_non_jkn FROM schedule_hours h WHERE s.schedule_id = $1 AND s.source = 'weekly'"
        " AND s.date >= $2 AND h.schedule_id = s.schedule_id AND h.weekday = extract(isodow FROM s.date)"
        " AND h.valid_from <= s.date AND (h.valid_until IS NULL OR h.valid_until >= s.date)",
        schedule_id, from_date)
    return [r["date"] for r in await conn.fetch(
        "SELECT s.date FROM sessions s WHERE s.schedule_id = $1 AND s.source = 'weekly' AND s.date >= $2"
        " AND NOT s.closed AND NOT EXISTS (SELECT 1 FROM schedule_hours h WHERE h.schedule_id = s.schedule_id"
        " AND h.weekday = extract(isodow FROM s.date) AND h.valid_from <= s.date"
        " AND (h.valid_until IS NULL OR h.valid_until >= s.date))", schedule_id, from_date)]


async def close_session(conn: asyncpg.Connection, *, schedule_id: str, day: date) -> None:
    await conn.execute("UPDATE sessions SET closed = true WHERE schedule_id = $1 AND date = $2", schedule_id, day)


async def lock_session(conn: asyncpg.Connection, *, schedule_id: str, day: date) -> None:
    """Every change to a session and its bookings locks the session row first, then bookings:
    one lock order, so closing a date, cancelling and recording tasks never deadlock."""
    await conn.execute("SELECT 1 FROM sessions WHERE schedule_id = $1 AND date = $2 FOR UPDATE", schedule_id, day)


async def ensure_sessions(conn: Conn, *, day: date, schedule_ids: list[str] | None = None,
                          facility_code: str | None = None) -> None:
    """Create the sessions of ``day`` from the weekly hours where none exists yet (idempotent)."""
    await conn.execute(
        "INSERT INTO sessions (schedule_id, date, start_time, end_time, quota_jkn, quota_non_jkn, source)"
        " SELECT h.schedule_id, $1::date, h.start_time, h.end_time, h.quota_jkn, h.quota_non_jkn, 'weekly'"
        " FROM schedule_hours h JOIN schedules sc ON sc.id = h.schedule_id"
        " WHERE h.weekday = extract(isodow FROM $1::date) AND h.valid_from <= $1::date"
        " AND (h.valid_until IS NULL OR h.valid_until >= $1::date)"
        " AND ($2::uuid[] IS NULL OR h.schedule_id = ANY($2::uuid[]))"
        " AND ($3::text IS NULL OR sc.facility_code = $3)"
        " ON CONFLICT (schedule_id, date) DO NOTHING", day, schedule_ids, facility_code)


async def upsert_session(conn: asyncpg.Connection, *, schedule_id: str, day: date, start: time, end: time,
                         quota_jkn: int, quota_non_jkn: int, closed: bool) -> None:
    await conn.execute(
        "INSERT INTO sessions (schedule_id, date, start_time, end_time, quota_jkn, quota_non_jkn, closed, source)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, 'override') ON CONFLICT (schedule_id, date) DO UPDATE SET"
        " start_time = EXCLUDED.start_time, end_time = EXCLUDED.end_time, quota_jkn = EXCLUDED.quota_jkn,"
        " quota_non_jkn = EXCLUDED.quota_non_jkn, closed = EXCLUDED.closed, source = 'override'",
        schedule_id, day, start, end, quota_jkn, quota_non_jkn, closed)


async def session_for_update(conn: asyncpg.Connection, *, schedule_id: str, day: date) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {SESSION_COLUMNS} FROM sessions s WHERE schedule_id = $1 AND date = $2"
                               " FOR UPDATE", schedule_id, day)


async def schedule(conn: Conn, *, schedule_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {SCHEDULE_COLUMNS} {SCHEDULE_JOIN} WHERE sc.id = $1", schedule_id)


async def sessions_on(conn: Conn, *, facility_code: str, day: date, poli_code: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {SCHEDULE_COLUMNS}, {SESSION_COLUMNS} {SCHEDULE_JOIN}"
        " JOIN sessions s ON s.schedule_id = sc.id AND s.date = $2"
        " WHERE sc.facility_code = $1 AND ($3::text IS NULL OR sc.poli_code = $3) AND NOT s.closed"
        " ORDER BY sc.poli_code, s.start_time, d.name", facility_code, day, poli_code)


async def session(conn: Conn, *, schedule_id: str, day: date) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {SCHEDULE_COLUMNS}, {SESSION_COLUMNS} {SCHEDULE_JOIN}"
                               " JOIN sessions s ON s.schedule_id = sc.id AND s.date = $2 WHERE sc.id = $1",
                               schedule_id, day)


async def take_seat(conn: asyncpg.Connection, *, schedule_id: str, day: date) -> asyncpg.Record | None:
    """Booking rule 6: one seat, atomically. The row lock of this single conditional UPDATE
    serialises concurrent bookers; none passes the quota. None when full (or closed)."""
    return await conn.fetchrow(
        "UPDATE sessions SET taken_jkn = taken_jkn + 1, last_seq = last_seq + 1"
        " WHERE schedule_id = $1 AND date = $2 AND NOT closed AND taken_jkn < quota_jkn"
        " RETURNING last_seq AS seq, quota_jkn, taken_jkn, start_time", schedule_id, day)


async def free_seat(conn: asyncpg.Connection, *, schedule_id: str, day: date, non_jkn: bool = False) -> None:
    """One seat back to its counter: the JKN one, or the non-JKN one for a non-JKN booking."""
    counter = "taken_non_jkn" if non_jkn else "taken_jkn"  # one of two fixed names
    await conn.execute(f"UPDATE sessions SET {counter} = {counter} - 1 WHERE schedule_id = $1 AND date = $2"
                       f" AND {counter} > 0", schedule_id, day)


# --- non-JKN desk bookings (`desk`) --------------------------------------------------------------

async def take_non_jkn_seat(conn: asyncpg.Connection, *, schedule_id: str, day: date) -> asyncpg.Record | None:
    """Desk rule 4: one seat of the non-JKN quota, atomically (the same row lock as `take_seat`
    serialises concurrent bookers, so the quota is never passed). None when full (or closed)."""
    return await conn.fetchrow(
        "UPDATE sessions SET taken_non_jkn = taken_non_jkn + 1, last_seq = last_seq + 1"
        " WHERE schedule_id = $1 AND date = $2 AND NOT closed AND taken_non_jkn < quota_non_jkn"
        " RETURNING last_seq AS seq, quota_non_jkn, taken_non_jkn, start_time", schedule_id, day)


async def has_active_non_jkn(conn: Conn, *, patient_key: str, facility_code: str, poli_code: str, day: date) -> bool:
    return await conn.fetchval(
        "SELECT true FROM bookings WHERE kind = 'NON_JKN' AND patient_key = $1 AND facility_code = $2"
        " AND poli_code = $3 AND date = $4 AND status IN ('BOOKED', 'CHECKED_IN', 'SERVING')",
        patient_key, facility_code, poli_code, day) or False


async def insert_non_jkn_booking(conn: asyncpg.Connection, *, code: str, schedule_id: str, day: date,
                                 facility_code: str, poli_code: str, seq: int, patient_key: str, booked_by: str,
                                 visit_type: int, medical_record_number: str | None) -> None:
    """A non-participant's booking: no NOKA, never the participant's (no account has ``booked_by``)."""
    await conn.execute(
        "INSERT INTO bookings (code, schedule_id, date, facility_code, poli_code, seq, noka, booked_by, status,"
        " visit_type, medical_record_number, new_patient, request_fingerprint, kind, patient_key)"
        " VALUES ($1, $2, $3, $4, $5, $6, '', $7, 'BOOKED', $8, $9, $10, 'desk', 'NON_JKN', $11)",
        code, schedule_id, day, facility_code, poli_code, seq, booked_by, visit_type, medical_record_number,
        medical_record_number is None, patient_key)


# --- group commit: several seats of one session in one transaction (`seats.Lanes`) -------------

async def lock_session_seats(conn: asyncpg.Connection, *, schedule_id: str, day: date) -> asyncpg.Record | None:
    """The session's counter, locked for the batch (the one lock order: session first)."""
    return await conn.fetchrow("SELECT taken_jkn, quota_jkn, last_seq, closed, now() AS now FROM sessions"
                               " WHERE schedule_id = $1 AND date = $2 FOR UPDATE", schedule_id, day)


async def batch_conflicts(conn: asyncpg.Connection, *, facility_code: str, poli_code: str, day: date,
                          nokas: list[str], booked_by: list[str], keys: list[str]) -> list[asyncpg.Record]:
    """In one round trip, what a batch of bookings must know before it writes: ``active`` — which
    of ``nokas`` already hold an active booking at this poli that day; ``key`` — the bookings
    already made under one of the (``booked_by``, ``keys``) Idempotency-Keys; ``record`` — the
    medical record numbers the facility knows for ``nokas``."""
    return await conn.fetch(
        "SELECT 'active' AS kind, noka, NULL::uuid AS booked_by, NULL::text AS idempotency_key,"
        " NULL::text AS request_fingerprint, NULL::bytea AS first_response, NULL::text AS medical_record_number"
        " FROM bookings WHERE noka = ANY($1::text[]) AND facility_code = $2 AND poli_code = $3 AND date = $4"
        " AND status IN ('BOOKED', 'CHECKED_IN', 'SERVING')"
        " UNION ALL SELECT 'key', b.noka, b.booked_by, b.idempotency_key, b.request_fingerprint, b.first_response,"
        " NULL FROM unnest($5::uuid[], $6::text[]) AS k(booked_by, idempotency_key)"
        " JOIN bookings b ON b.booked_by = k.booked_by AND b.idempotency_key = k.idempotency_key"
        " UNION ALL SELECT 'record', noka, NULL, NULL, NULL, NULL, medical_record_number FROM medical_records"
        " WHERE facility_code = $2 AND noka = ANY($1::text[])",
        nokas, facility_code, poli_code, day, booked_by, keys)


async def insert_booking_batch(conn: asyncpg.Connection, *, schedule_id: str, day: date, facility_code: str,
                               poli_code: str, bookings: list[tuple], records: list[tuple[str, str]],
                               events: list[tuple], event_type: str, topic: str, outbox_channel: str) -> int:
    """The seats, the bookings, the medical record numbers given and the outbox events of a
    batch in one statement (after `lock_session_seats`; the caller has numbered the seats).

    ``bookings``: (code, seq, noka, booked_by, visit_type, referral_number, medical_record_number,
    new_patient, idempotency_key, request_fingerprint, first_response); ``records``: (noka,
    number); ``events``: (event_id, key, payload, headers JSON) — the rows `kit.outbox.add_event`
    writes, and its NOTIFY. Returns the number of bookings written."""
    columns = list(zip(*bookings, strict=True))
    record_columns: list[tuple[Any, ...]] = list(zip(*records, strict=True)) if records else [(), ()]
    event_columns = list(zip(*events, strict=True))
    row = await conn.fetchrow(
        "WITH seats AS (UPDATE sessions SET taken_jkn = taken_jkn + $3, last_seq = last_seq + $3"
        "   WHERE schedule_id = $1 AND date = $2 RETURNING 1),"
        " written AS (INSERT INTO bookings (code, schedule_id, date, facility_code, poli_code, seq, noka, booked_by,"
        "   status, visit_type, referral_number, medical_record_number, new_patient, idempotency_key,"
        "   request_fingerprint, first_response)"
        "   SELECT v.code, $1, $2, $4, $5, v.seq, v.noka, v.booked_by, 'BOOKED', v.visit_type, v.referral_number,"
        "   v.medical_record_number, v.new_patient, v.idempotency_key, v.request_fingerprint, v.first_response"
        "   FROM unnest($6::text[], $7::int[], $8::text[], $9::uuid[], $10::smallint[], $11::text[], $12::text[],"
        "   $13::bool[], $14::text[], $15::text[], $16::bytea[]) AS v(code, seq, noka, booked_by, visit_type,"
        "   referral_number, medical_record_number, new_patient, idempotency_key, request_fingerprint,"
        "   first_response) RETURNING 1),"
        " remembered AS (INSERT INTO medical_records (facility_code, noka, medical_record_number)"
        "   SELECT $4, r.noka, r.number FROM unnest($17::text[], $18::text[]) AS r(noka, number)"
        "   ON CONFLICT (facility_code, noka) DO UPDATE SET medical_record_number = EXCLUDED.medical_record_number"
        "   RETURNING 1),"
        " announced AS (INSERT INTO outbox (event_id, event_type, topic, key, payload, headers)"
        "   SELECT e.event_id, $19, $20, e.key, e.payload, e.headers::jsonb"
        "   FROM unnest($21::uuid[], $22::bytea[], $23::bytea[], $24::text[]) AS e(event_id, key, payload, headers)"
        "   RETURNING 1)"
        " SELECT (SELECT count(*) FROM written) AS written, (SELECT count(*) FROM seats) AS seats,"
        " (SELECT count(*) FROM remembered) AS remembered, (SELECT count(*) FROM announced) AS announced,"
        " pg_notify($25, '') AS notified",
        schedule_id, day, len(bookings), facility_code, poli_code, *columns, *record_columns, event_type, topic,
        *event_columns, outbox_channel)
    assert row is not None and row["seats"] == 1, "the batch's session row is gone"
    return row["written"]


# --- referrals -----------------------------------------------------------------------------

async def referral(conn: Conn, *, number: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT number, noka, from_facility, to_facility, poli_code, issued_on, valid_until"
                               " FROM referrals WHERE number = $1", number)


async def next_referral_serial(conn: asyncpg.Connection, *, facility_code: str, period: str) -> int:
    return await conn.fetchval(
        "INSERT INTO referral_serials (facility_code, period, last_serial) VALUES ($1, $2, 1)"
        " ON CONFLICT (facility_code, period) DO UPDATE SET last_serial = referral_serials.last_serial + 1"
        " RETURNING last_serial", facility_code, period)


async def insert_referral(conn: asyncpg.Connection, *, number: str, noka: str, from_facility: str,
                          to_facility: str, poli_code: str, visit_type: int, issued_on: date,
                          valid_until: date) -> bool:
    """False when the number is taken (then the caller takes the next serial)."""
    return await conn.fetchval(
        "INSERT INTO referrals (number, noka, from_facility, to_facility, poli_code, visit_type, issued_on,"
        " valid_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (number) DO NOTHING RETURNING true",
        number, noka, from_facility, to_facility, poli_code, visit_type, issued_on, valid_until) or False


# --- bookings ------------------------------------------------------------------------------

BOOKING_VIEW = (
    "SELECT b.*, f.name AS facility_name, f.type AS facility_type, p.name AS poli_name,"
    " d.code AS doctor_code, d.name AS doctor_name,"
    " s.start_time, s.quota_jkn, s.taken_jkn,"
    " coalesce((SELECT json_agg(json_build_array(t.task_id, t.at) ORDER BY t.task_id)::text"
    "   FROM booking_tasks t WHERE t.booking_code = b.code), '[]') AS tasks"
    " FROM bookings b JOIN facilities f ON f.code = b.facility_code"
    " JOIN polis p ON p.facility_code = b.facility_code AND p.code = b.poli_code"
    " JOIN schedules sc ON sc.id = b.schedule_id"
    " JOIN doctors d ON d.facility_code = sc.facility_code AND d.code = sc.doctor_code"
    " JOIN sessions s ON s.schedule_id = b.schedule_id AND s.date = b.date")


async def booking(conn: Conn, *, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{BOOKING_VIEW} WHERE b.code = $1", code)


async def booking_row(conn: Conn, *, code: str) -> asyncpg.Record | None:
    """The booking's own row, not locked (to learn its session before locking in order)."""
    return await conn.fetchrow("SELECT * FROM bookings WHERE code = $1", code)


async def set_first_response(conn: asyncpg.Connection, *, code: str, body: bytes) -> None:
    await conn.execute("UPDATE bookings SET first_response = $2 WHERE code = $1", code, body)


async def booking_for_update(conn: asyncpg.Connection, *, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM bookings WHERE code = $1 FOR UPDATE", code)


async def booking_by_idempotency_key(conn: Conn, *, booked_by: str, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{BOOKING_VIEW} WHERE b.booked_by = $1 AND b.idempotency_key = $2", booked_by, key)


async def has_active_booking(conn: Conn, *, noka: str, facility_code: str, poli_code: str, day: date) -> bool:
    return await conn.fetchval(
        "SELECT true FROM bookings WHERE noka = $1 AND facility_code = $2 AND poli_code = $3 AND date = $4"
        " AND status IN ('BOOKED', 'CHECKED_IN', 'SERVING')", noka, facility_code, poli_code, day) or False


async def known_medical_record(conn: asyncpg.Connection, *, facility_code: str, noka: str) -> str | None:
    return await conn.fetchval("SELECT medical_record_number FROM medical_records WHERE facility_code = $1"
                               " AND noka = $2", facility_code, noka)


async def remember_medical_record(conn: asyncpg.Connection, *, facility_code: str, noka: str, number: str) -> None:
    await conn.execute("INSERT INTO medical_records (facility_code, noka, medical_record_number)"
                       " VALUES ($1, $2, $3) ON CONFLICT (facility_code, noka) DO UPDATE"
                       " SET medical_record_number = EXCLUDED.medical_record_number", facility_code, noka, number)


async def insert_booking(conn: asyncpg.Connection, *, code: str, schedule_id: str, day: date, facility_code: str,
                         poli_code: str, seq: int, noka: str, booked_by: str, status: str, visit_type: int,
                         referral_number: str | None, medical_record_number: str | None, new_patient: bool,
                         idempotency_key: str | None, request_fingerprint: str, rescheduled_from: str | None = None,
                         waitlist_id: str | None = None) -> None:
    await conn.execute(
        "INSERT INTO bookings (code, schedule_id, date, facility_code, poli_code, seq, noka, booked_by, status,"
        " visit_type, referral_number, medical_record_number, new_patient, idempotency_key, request_fingerprint,"
        " rescheduled_from, waitlist_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        code, schedule_id, day, facility_code, poli_code, seq, noka, booked_by, status, visit_type, referral_number,
        medical_record_number, new_patient, idempotency_key, request_fingerprint, rescheduled_from, waitlist_id)


async def bookings_of(conn: Conn, *, booked_by: str, noka: str, limit: int) -> list[asyncpg.Record]:
    """The caller's own bookings and those the caller made for others, newest visit first."""
    return await conn.fetch(f"{BOOKING_VIEW} WHERE b.booked_by = $1 OR b.noka = $2"
                            " ORDER BY b.date DESC, b.created_at DESC LIMIT $3", booked_by, noka, limit)


async def facility_bookings(conn: Conn, *, facility_code: str, day: date, poli_code: str | None,
                            limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(f"{BOOKING_VIEW} WHERE b.facility_code = $1 AND b.date = $2"
                            " AND ($3::text IS NULL OR b.poli_code = $3) ORDER BY b.poli_code, b.seq LIMIT $4",
                            facility_code, day, poli_code, limit)


class _Keep(enum.Enum):
    KEEP = "keep"


#: `set_status`'s default for a column the caller leaves as it is (None sets NULL).
KEEP: Final = _Keep.KEEP


async def set_status(conn: asyncpg.Connection, *, code: str, status: str,
                     checked_in_at: datetime | None | _Keep = KEEP, cancelled_at: datetime | None | _Keep = KEEP,
                     cancelled_by: str | None | _Keep = KEEP, cancel_reason: str | None | _Keep = KEEP) -> None:
    """The booking's new status, and of the other columns only those given (names from this fixed list)."""
    given = [(name, value) for name, value in (("checked_in_at", checked_in_at), ("cancelled_at", cancelled_at),
                                               ("cancelled_by", cancelled_by), ("cancel_reason", cancel_reason))
             if value is not KEEP]
    sets = "".join(f", {name} = ${i}" for i, (name, _) in enumerate(given, start=3))
    await conn.execute(f"UPDATE bookings SET status = $2{sets} WHERE code = $1", code, status,
                       *(value for _, value in given))


async def tasks_of(conn: asyncpg.Connection, *, code: str) -> dict[int, datetime]:
    return {r["task_id"]: r["at"] for r in await conn.fetch(
        "SELECT task_id, at FROM booking_tasks WHERE booking_code = $1", code)}


async def add_task(conn: asyncpg.Connection, *, code: str, task_id: int, at: datetime,
                   received_at: datetime | None = None) -> None:
    """``at`` is the facility's time, ``received_at`` the platform's (the database's now by default)."""
    await conn.execute("INSERT INTO booking_tasks (booking_code, task_id, at, received_at)"
                       " VALUES ($1, $2, $3, coalesce($4, now()))", code, task_id, at, received_at)


async def queue_state(conn: Conn, *, schedule_id: str, day: date) -> list[asyncpg.Record]:
    """Every booking of a session in queue order, with its poli service start (task 4)."""
    return await conn.fetch(
        "SELECT b.code, b.seq, b.poli_code, b.status, b.booked_by, b.noka, b.turn_near_sent, t.at AS service_at"
        " FROM bookings b LEFT JOIN booking_tasks t ON t.booking_code = b.code AND t.task_id = 4"
        " WHERE b.schedule_id = $1 AND b.date = $2 ORDER BY b.seq", schedule_id, day)


async def active_bookings_of_session(conn: asyncpg.Connection, *, schedule_id: str, day: date) -> list[str]:
    return [r["code"] for r in await conn.fetch(
        "SELECT code FROM bookings WHERE schedule_id = $1 AND date = $2 AND status = 'BOOKED' FOR UPDATE",
        schedule_id, day)]


async def mark_no_shows(conn: asyncpg.Connection, *, now: datetime) -> list[asyncpg.Record]:
    """Bookings still BOOKED after their session ended become NO_SHOW (returns them)."""
    return await conn.fetch(
        "UPDATE bookings b SET status = 'NO_SHOW' FROM sessions s"
        " WHERE s.schedule_id = b.schedule_id AND s.date = b.date AND b.status = 'BOOKED'"
        " AND b.date <= ($1::timestamptz AT TIME ZONE 'Asia/Jakarta')::date"
        " AND (b.date + s.end_time) < ($1::timestamptz AT TIME ZONE 'Asia/Jakarta')"
        " RETURNING b.code", now)


async def due_reminders(conn: asyncpg.Connection, *, day: date, limit: int = 500) -> list[asyncpg.Record]:
    """BOOKED bookings of ``day`` not reminded yet; marks them reminded (the caller's transaction)."""
    return await conn.fetch(
        "UPDATE bookings SET reminder_sent = true WHERE code IN (SELECT code FROM bookings"
        " WHERE date = $1 AND status = 'BOOKED' AND NOT reminder_sent LIMIT $2 FOR UPDATE SKIP LOCKED)"
        " RETURNING code", day, limit)


async def mark_turn_near(conn: asyncpg.Connection, *, codes: list[str]) -> None:
    await conn.execute("UPDATE bookings SET turn_near_sent = true WHERE code = ANY($1)", sorted(codes))


# --- for hospital desks and the BPJS bridge (`registrations`, `desk`) -----------------------------

async def doctors_of(conn: Conn, *, facility_code: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT code, name FROM doctors WHERE facility_code = $1 ORDER BY code", facility_code)


async def facility_sessions(conn: Conn, *, facility_code: str, day: date,
                            poli_code: str | None) -> list[asyncpg.Record]:
    """A facility's sessions on ``day``, closed ones included."""
    return await conn.fetch(
        f"SELECT {SCHEDULE_COLUMNS}, {SESSION_COLUMNS} {SCHEDULE_JOIN}"
        " JOIN sessions s ON s.schedule_id = sc.id AND s.date = $2"
        " WHERE sc.facility_code = $1 AND ($3::text IS NULL OR sc.poli_code = $3)"
        " ORDER BY sc.poli_code, s.start_time, d.name", facility_code, day, poli_code)


async def doctor_schedule_id(conn: Conn, *, facility_code: str, poli_code: str, doctor_code: str) -> str | None:
    value = await conn.fetchval("SELECT id FROM schedules WHERE facility_code = $1 AND poli_code = $2"
                                " AND doctor_code = $3", facility_code, poli_code, doctor_code)
    return str(value) if value is not None else None


#: `BOOKING_VIEW` with the session's non-JKN quota, seats taken and end too, and when the
#: platform received each task time.
REGISTRATION_VIEW = BOOKING_VIEW.replace(
    "SELECT b.*,", "SELECT b.*, s.quota_non_jkn, s.taken_non_jkn, s.end_time,"
    " coalesce((SELECT json_agg(json_build_array(r.task_id, r.received_at) ORDER BY r.task_id)::text"
    "   FROM booking_tasks r WHERE r.booking_code = b.code), '[]') AS received,", 1)


async def registration(conn: Conn, *, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{REGISTRATION_VIEW} WHERE b.code = $1", code)


async def registrations_on(conn: Conn, *, facility_code: str, day: date, limit: int) -> list[asyncpg.Record]:
    """A facility's bookings on ``day`` (every status) by poli and sequence."""
    return await conn.fetch(f"{REGISTRATION_VIEW} WHERE b.facility_code = $1 AND b.date = $2"
                            " ORDER BY b.poli_code, b.seq LIMIT $3", facility_code, day, limit)


# --- reschedule and a doctor's absence -----------------------------------------------------------

async def lock_sessions(conn: asyncpg.Connection, *, keys: list[tuple[str, date]]) -> None:
    """Several sessions locked in one order — by date, then schedule id (a weekly change locks a
    schedule's sessions in date order too) — so two moves between the same sessions never deadlock."""
    for schedule_id, day in sorted(set(keys), key=lambda key: (key[1], key[0])):
        await lock_session(conn, schedule_id=schedule_id, day=day)


async def has_other_active_booking(conn: Conn, *, noka: str, facility_code: str, poli_code: str, day: date,
                                   other_than: str) -> bool:
    return await conn.fetchval(
        "SELECT true FROM bookings WHERE noka = $1 AND facility_code = $2 AND poli_code = $3 AND date = $4"
        " AND status IN ('BOOKED', 'CHECKED_IN', 'SERVING') AND code <> $5",
        noka, facility_code, poli_code, day, other_than) or False


async def set_rescheduled_to(conn: asyncpg.Connection, *, code: str, to: str) -> None:
    await conn.execute("UPDATE bookings SET rescheduled_to = $2 WHERE code = $1", code, to)


async def next_seq(conn: asyncpg.Connection, *, schedule_id: str, day: date) -> int:
    """The next sequence number of a session, for a seat already counted (one held for an offer)."""
    return await conn.fetchval("UPDATE sessions SET last_seq = last_seq + 1 WHERE schedule_id = $1 AND date = $2"
                               " RETURNING last_seq", schedule_id, day)


async def hold_seat(conn: asyncpg.Connection, *, schedule_id: str, day: date) -> bool:
    """One seat counted as taken without a booking (an offer holds it), never past the quota."""
    return await conn.fetchval(
        "UPDATE sessions SET taken_jkn = taken_jkn + 1 WHERE schedule_id = $1 AND date = $2 AND NOT closed"
        " AND taken_jkn < quota_jkn RETURNING true", schedule_id, day) or False


async def alternatives(conn: Conn, *, facility_code: str, poli_code: str, from_date: date, until: date,
                       now: datetime, excluding: tuple[str, date], limit: int = 30) -> list[asyncpg.Record]:
    """Open sessions of a facility's poli from ``from_date`` to ``until`` that have not ended and
    have free JKN seats (not the session ``excluding``), earliest first."""
    return await conn.fetch(
        f"SELECT {SCHEDULE_COLUMNS}, {SESSION_COLUMNS} {SCHEDULE_JOIN}"
        " JOIN sessions s ON s.schedule_id = sc.id"
        " WHERE sc.facility_code = $1 AND sc.poli_code = $2 AND s.date BETWEEN $3 AND $4 AND NOT s.closed"
        " AND s.taken_jkn < s.quota_jkn AND (s.date + s.end_time) > ($5::timestamptz AT TIME ZONE 'Asia/Jakarta')"
        " AND NOT (s.schedule_id = $6 AND s.date = $7)"
        " ORDER BY s.date, s.start_time, d.name LIMIT $8",
        facility_code, poli_code, from_date, until, now, excluding[0], excluding[1], limit)


# --- the waitlist --------------------------------------------------------------------------------

WAITLIST_VIEW = (
    "SELECT w.*, f.name AS facility_name, f.type AS facility_type, p.name AS poli_name,"
    " d.code AS doctor_code, d.name AS doctor_name,"
    " CASE WHEN w.status = 'WAITING' THEN (SELECT count(*) FROM waitlist o WHERE o.schedule_id = w.schedule_id"
    "   AND o.date = w.date AND o.status = 'WAITING' AND o.seq <= w.seq) ELSE 0 END AS position"
    " FROM waitlist w JOIN facilities f ON f.code = w.facility_code"
    " JOIN polis p ON p.facility_code = w.facility_code AND p.code = w.poli_code"
    " JOIN schedules sc ON sc.id = w.schedule_id"
    " JOIN doctors d ON d.facility_code = sc.facility_code AND d.code = sc.doctor_code")
LIVE = ("WAITING", "OFFERED")


async def insert_waitlist(conn: asyncpg.Connection, *, schedule_id: str, day: date, facility_code: str,
                          poli_code: str, noka: str, caller_noka: str, booked_by: str, referral_number: str | None,
                          auto_accept: bool) -> str:
    return str(await conn.fetchval(
        "INSERT INTO waitlist (schedule_id, date, facility_code, poli_code, noka, caller_noka, booked_by,"
        " referral_number, auto_accept, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'WAITING') RETURNING id",
        schedule_id, day, facility_code, poli_code, noka, caller_noka, booked_by, referral_number, auto_accept))


async def waitlist_entry(conn: Conn, *, waitlist_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{WAITLIST_VIEW} WHERE w.id = $1", waitlist_id)


async def waitlist_row(conn: Conn, *, waitlist_id: str) -> asyncpg.Record | None:
    """The entry's own row, not locked (to learn its session before locking in order)."""
    return await conn.fetchrow("SELECT * FROM waitlist WHERE id = $1", waitlist_id)


async def waitlist_for_update(conn: asyncpg.Connection, *, waitlist_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM waitlist WHERE id = $1 FOR UPDATE", waitlist_id)


async def waitlist_of(conn: Conn, *, booked_by: str, noka: str, limit: int) -> list[asyncpg.Record]:
    """The caller's own entries and those the caller made for others, newest first."""
    return await conn.fetch(f"{WAITLIST_VIEW} WHERE w.booked_by = $1 OR w.noka = $2"
                            " ORDER BY w.created_at DESC LIMIT $3", booked_by, noka, limit)


async def waitlist_head(conn: asyncpg.Connection, *, schedule_id: str, day: date) -> asyncpg.Record | None:
    """The session's first WAITING entry (arrival order), locked (the caller holds the session's lock)."""
    return await conn.fetchrow("SELECT * FROM waitlist WHERE schedule_id = $1 AND date = $2 AND status = 'WAITING'"
                               " ORDER BY seq LIMIT 1 FOR UPDATE", schedule_id, day)


async def has_live_entry(conn: Conn, *, noka: str, facility_code: str, poli_code: str, day: date) -> bool:
    return await conn.fetchval(
        "SELECT true FROM waitlist WHERE noka = $1 AND facility_code = $2 AND poli_code = $3 AND date = $4"
        " AND status IN ('WAITING', 'OFFERED')", noka, facility_code, poli_code, day) or False


async def set_waitlist_status(conn: asyncpg.Connection, *, waitlist_id: str, status: str,
                              offer_expires_at: datetime | None = None, booking_code: str | None = None,
                              end_reason: str | None = None) -> None:
    """The entry's new status; an ended one (not WAITING/OFFERED) gets its end time."""
    await conn.execute(
        "UPDATE waitlist SET status = $2, offer_expires_at = coalesce($3, offer_expires_at),"
        " booking_code = coalesce($4, booking_code), end_reason = $5,"
        " ended_at = CASE WHEN $2 IN ('WAITING', 'OFFERED') THEN NULL ELSE now() END WHERE id = $1",
        waitlist_id, status, offer_expires_at, booking_code, end_reason)


async def live_entries_of_session(conn: asyncpg.Connection, *, schedule_id: str, day: date) -> list[asyncpg.Record]:
    """The session's WAITING and OFFERED entries, locked, in arrival order."""
    return await conn.fetch("SELECT * FROM waitlist WHERE schedule_id = $1 AND date = $2"
                            " AND status IN ('WAITING', 'OFFERED') ORDER BY seq FOR UPDATE", schedule_id, day)


async def waitlist_length(conn: Conn, *, schedule_id: str, day: date) -> int:
    return await conn.fetchval("SELECT count(*) FROM waitlist WHERE schedule_id = $1 AND date = $2"
                               " AND status IN ('WAITING', 'OFFERED')", schedule_id, day)


async def expired_offers(conn: Conn, *, now: datetime, limit: int = 200) -> list[asyncpg.Record]:
    """Offers whose hold has run out (not locked: each is settled under its session's lock)."""
    return await conn.fetch("SELECT id, schedule_id, date FROM waitlist WHERE status = 'OFFERED'"
                            " AND offer_expires_at <= $1 ORDER BY offer_expires_at LIMIT $2", now, limit)


async def sessions_with_past_entries(conn: Conn, *, today: date, limit: int = 200) -> list[asyncpg.Record]:
    """Sessions before ``today`` that still have live entries."""
    return await conn.fetch("SELECT DISTINCT schedule_id, date FROM waitlist WHERE status IN ('WAITING', 'OFFERED')"
                            " AND date < $1 LIMIT $2", today, limit)


async def referral_with_visit_type(conn: Conn, *, number: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT number, noka, from_facility, to_facility, poli_code, visit_type, issued_on,"
                               " valid_until FROM referrals WHERE number = $1", number)
