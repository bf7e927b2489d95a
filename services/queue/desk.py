"""The hospital desk's booking for a participant who has no phone (partner `CreateDeskBooking`,
the bridge's BPJS ``antrean/add``, CONTRACT.md §8).

- Desk rule 1: every booking rule of §3 holds (the participant AKTIF, own FKTP or a valid
  referral, one active booking per poli and date, the quota never passed), except the window: the
  desk may also book for today, while the session has not ended (the patient is at the counter).
- Desk rule 2: the booking carries the hospital's own booking code (1–40 letters, digits, ``-``
  or ``_``, kept in upper case); a code the facility already used is refused (`DUPLICATE_BOOKING`
  with ``booking_code_taken``), so a resent request never books twice; another facility's code is
  a `VALIDATION_ERROR`.
- Desk rule 3: the booking is the participant's like any other (it is in their ``GET
  /v1/bookings``); it is "made by" the facility's desk, a fixed id per facility that no account
  has, so no SMS goes anywhere.
- Desk rule 4: a non-participant (BPJS "NON JKN") takes a seat of the session's non-JKN quota,
  never a JKN one, with none of the participant's checks (membership, FKTP, referral); the
  patient is known by NIK (16 digits) or else by the facility's medical record number, and has
  at most one active booking per poli and date. The quota is never passed (`QUOTA_FULL` when
  taken); the booking has no NOKA, so it is no participant's, and when it is cancelled or a
  no-show its seat goes back to the non-JKN quota (never to the JKN waitlist).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time

import asyncpg

from jkn.membership.v1 import membership_pb2, membership_pb2_grpc
from services.kit.clock import JAKARTA
from services.kit.errors import DomainError, NotFound, call_peer
from services.kit.ids import is_noka
from services.kit.logs import get_logger
from services.queue import bookings, events, metrics, rules, store

log = get_logger("jkn.queue.desk")

_DESKS = uuid.UUID("6f1c3a52-7d1e-4c1b-9a0e-2b8f3d6c9e41")
_BOOKING_CODE = re.compile(r"^[A-Z0-9_-]{1,40}$")


def desk_of(facility_code: str) -> str:
    """Desk rule 3: the id a facility's desk bookings are made by."""
    return str(uuid.uuid5(_DESKS, facility_code))


def booking_code(value: str) -> str:
    """Desk rule 2: the hospital's code, upper case, or VALIDATION_ERROR."""
    code = value.strip().upper()
    if not _BOOKING_CODE.match(code):
        raise rules.invalid("booking_code", "1–40 letters, digits, '-' or '_'")
    return code


def check_desk_window(*, facility_type: str, visit_date: date, now: datetime, session_end: time) -> None:
    """Desk rule 1: today is allowed until the session ends; any other date follows booking rule 1."""
    if visit_date == now.astimezone(JAKARTA).date():
        if rules.at_jakarta(visit_date, session_end) <= now:
            raise DomainError("this session has already ended", code="BOOKING_WINDOW")
        return
    rules.check_booking_window(facility_type=facility_type, visit_date=visit_date, now=now, session_end=session_end)


def code_taken(existing: asyncpg.Record, facility: str) -> DomainError:
    """Desk rule 2: the facility's own code again is "already recorded"; another facility's code
    is simply not available (nothing about that booking is told)."""
    if existing["facility_code"] != facility:
        return rules.invalid("booking_code", "already used on the platform: choose another")
    return DomainError("this booking code is already used", code="DUPLICATE_BOOKING", booking_code_taken=True)


@dataclass(frozen=True)
class DeskBooking:
    booking_code: str
    noka: str
    poli_code: str
    doctor_code: str
    date: str
    visit_type: int
    referral_number: str | None
    medical_record_number: str | None
    start: str | None
    non_jkn: bool = False
    nik: str | None = None


def patient_key(*, nik: str | None, medical_record_number: str | None) -> str:
    """Desk rule 4: a non-participant is known by NIK, or else by the medical record number."""
    nik, record = (nik or "").strip(), (medical_record_number or "").strip()
    if nik:
        if not (len(nik) == 16 and nik.isdigit()):
            raise rules.invalid("nik", "16 digits")
        return f"NIK:{nik}"
    if not record:
        raise rules.invalid("nik", "the NIK or the medical record number of a non-JKN patient")
    return f"RM:{record}"


async def create(pool: asyncpg.Pool, membership: membership_pb2_grpc.MembershipServiceStub, facility: str,
                 request: DeskBooking, *, now: datetime) -> asyncpg.Record:
    """Desk rules 1–3, in the order of `bookings.create`: the code, the session, the patient, the
    window, own FKTP or referral, then the seat in one transaction."""
    code = booking_code(request.booking_code)
    if request.non_jkn:
        return await _create_non_jkn(pool, facility, code, request, now=now)
    if not is_noka(request.noka):
        raise rules.invalid("noka", "13 digits")
    visit_date = rules.parse_date(request.date)
    rules.check_request_sizes(medical_record_number=request.medical_record_number, idempotency_key=None)
    session = await _session(pool, facility, code, request, visit_date, now=now)
    participant = (await call_peer(membership.GetParticipant(membership_pb2.GetParticipantRequest(
        noka=request.noka)), NOT_FOUND=NotFound("no such participant"))).participant
    active = participant.status == membership_pb2.PARTICIPANT_STATUS_AKTIF
    patient = bookings.Patient(noka=participant.noka, status="AKTIF" if active else "TIDAK_AKTIF",
                               fktp_code=participant.fktp.code)
    rules.check_active(patient.status)
    check_desk_window(facility_type=session["facility_type"], visit_date=visit_date, now=now,
                      session_end=session["end_time"])
    referral = await _referral(pool, request, session, visit_date, patient, today=now.astimezone(JAKARTA).date())
    return await _take_seat(pool, code, facility, request, session, visit_date, patient, referral)


async def _session(pool: asyncpg.Pool, facility: str, code: str, request: DeskBooking, visit_date: date, *,
                   now: datetime) -> asyncpg.Record:
    """The code not yet used, then the doctor's open session on that date (desk rules 1 and 2)."""
    if not rules.bookable_at_all(visit_date, now=now):
        raise DomainError("bookings are for today up to 30 days ahead", code="BOOKING_WINDOW")
    existing = await store.booking_row(pool, code=code)
    if existing is not None:
        raise code_taken(existing, facility)
    schedule_id = await store.doctor_schedule_id(pool, facility_code=facility, poli_code=request.poli_code.strip()
                                                 .upper(), doctor_code=request.doctor_code.strip())
    if schedule_id is None:
        raise NotFound("no such doctor at this poli")
    session = await bookings.session_of(pool, schedule_id, visit_date)
    if session["closed"]:
        raise DomainError("the doctor does not practise on that date", code="BOOKING_WINDOW")
    if request.start and rules.parse_hhmm(request.start, "start") != session["start_time"]:
        raise NotFound("the doctor has no session at that time")
    return session


async def _create_non_jkn(pool: asyncpg.Pool, facility: str, code: str, request: DeskBooking, *,
                          now: datetime) -> asyncpg.Record:
    """Desk rule 4 (with rules 1 and 2 but no participant checks)."""
    visit_date = rules.parse_date(request.date)
    rules.check_request_sizes(medical_record_number=request.medical_record_number, idempotency_key=None)
    key = patient_key(nik=request.nik, medical_record_number=request.medical_record_number)
    session = await _session(pool, facility, code, request, visit_date, now=now)
    check_desk_window(facility_type=session["facility_type"], visit_date=visit_date, now=now,
                      session_end=session["end_time"])
    poli, record = session["poli_code"], (request.medical_record_number or "").strip() or None
    try:
        async with pool.acquire() as conn, conn.transaction():
            if await store.has_active_non_jkn(conn, patient_key=key, facility_code=facility, poli_code=poli,
                                              day=visit_date):
                raise DomainError("this patient already has a booking at this poli on that date",
                                  code="DUPLICATE_BOOKING")
            seat = await store.take_non_jkn_seat(conn, schedule_id=str(session["schedule_id"]), day=visit_date)
            if seat is None:
                raise DomainError("no non-JKN seats left for this session", code="QUOTA_FULL", non_jkn=True)
            await store.insert_non_jkn_booking(
                conn, code=code, schedule_id=str(session["schedule_id"]), day=visit_date, facility_code=facility,
                poli_code=poli, seq=seat["seq"], patient_key=key, booked_by=desk_of(facility),
                visit_type=request.visit_type, medical_record_number=record)
            await events.announce(conn, code, events.BookingCreated)
            row = await store.registration(conn, code=code)
    except asyncpg.UniqueViolationError:
        existing = await store.booking_row(pool, code=code)
        if existing is not None:  # a twin with the same code committed first
            raise code_taken(existing, facility) from None
        raise DomainError("this patient already has a booking at this poli on that date",
                          code="DUPLICATE_BOOKING") from None
    except DomainError as error:
        metrics.BOOKINGS.labels(session["facility_type"], {"QUOTA_FULL": "quota_full", "DUPLICATE_BOOKING":
                                                           "duplicate"}.get(error.code, "refused")).inc()
        raise
    metrics.BOOKINGS.labels(session["facility_type"], "created").inc()
    log.info("desk_booking_created", extra={"facility": facility, "poli": poli, "date": visit_date.isoformat(),
                                            "seq": seat["seq"], "kind": "NON_JKN"})
    assert row is not None
    return row


async def _referral(pool: asyncpg.Pool, request: DeskBooking, session: asyncpg.Record, visit_date: date,
                    patient: bookings.Patient, *, today: date) -> str | None:
    """Booking rule 2 at an FKTP, the referral rules at a hospital (as `bookings.check_before_seat`)."""
    if session["facility_type"] == "FKTP":
        rules.check_own_fktp(facility_code=session["facility_code"], participant_fktp=patient.fktp_code)
        return None
    number = (request.referral_number or "").strip().upper()
    row = await store.referral(pool, number=number) if len(number) == rules.REFERRAL_LENGTH else None
    rules.check_referral(
        rules.Referral(row["number"], row["noka"], row["to_facility"], row["poli_code"], row["issued_on"],
                       row["valid_until"]) if row else None,
        number=number, noka=patient.noka, facility_code=session["facility_code"],
        poli_code=session["poli_code"], visit_date=visit_date, today=today)
    return number


async def _take_seat(pool: asyncpg.Pool, code: str, facility: str, request: DeskBooking, session: asyncpg.Record,
                     visit_date: date, patient: bookings.Patient, referral: str | None) -> asyncpg.Record:
    """Booking rules 3, 5 and 6 in one transaction (as `bookings._take_seat`), under the desk's code."""
    poli = session["poli_code"]
    try:
        async with pool.acquire() as conn, conn.transaction():
            if await store.has_active_booking(conn, noka=patient.noka, facility_code=facility, poli_code=poli,
                                              day=visit_date):
                raise DomainError("this participant already has a booking at this poli on that date",
                                  code="DUPLICATE_BOOKING")
            seat = await store.take_seat(conn, schedule_id=str(session["schedule_id"]), day=visit_date)
            if seat is None:
                raise DomainError("no JKN seats left for this session", code="QUOTA_FULL")
            record = (request.medical_record_number or "").strip() or None
            if record:
                await store.remember_medical_record(conn, facility_code=facility, noka=patient.noka, number=record)
            else:
                record = await store.known_medical_record(conn, facility_code=facility, noka=patient.noka)
            await store.insert_booking(
                conn, code=code, schedule_id=str(session["schedule_id"]), day=visit_date, facility_code=facility,
                poli_code=poli, seq=seat["seq"], noka=patient.noka, booked_by=desk_of(facility), status="BOOKED",
                visit_type=request.visit_type, referral_number=referral, medical_record_number=record,
                new_patient=record is None, idempotency_key=None, request_fingerprint="desk")
            await events.announce(conn, code, events.BookingCreated)
            row = await store.registration(conn, code=code)
    except (asyncpg.UniqueViolationError, DomainError) as error:
        # A twin with the same code that committed first: desk rule 2, whichever check saw it.
        duplicate = isinstance(error, asyncpg.UniqueViolationError) or error.code == "DUPLICATE_BOOKING"
        existing = await store.booking_row(pool, code=code) if duplicate else None
        if existing is not None:
            raise code_taken(existing, facility) from None
        if isinstance(error, asyncpg.UniqueViolationError):
            raise DomainError("this participant already has a booking at this poli on that date",
                              code="DUPLICATE_BOOKING") from None
        metrics.BOOKINGS.labels(session["facility_type"], {"QUOTA_FULL": "quota_full", "DUPLICATE_BOOKING":
                                                           "duplicate"}.get(error.code, "refused")).inc()
        raise
    metrics.BOOKINGS.labels(session["facility_type"], "created").inc()
    log.info("desk_booking_created", extra={"facility": facility, "poli": poli, "date": visit_date.isoformat(),
                                            "seq": seat["seq"]})
    assert row is not None
    return row
