"""Participant bookings: create, read with live progress, cancel (the order of the checks and
the one transaction that takes a seat). The rules themselves are in `rules`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import asyncpg

from jkn.membership.v1 import membership_pb2, membership_pb2_grpc
from jkn.queue.v1 import queue_pb2
from services.kit.clock import JAKARTA
from services.kit.errors import DomainError, NotFound, call_peer
from services.kit.ids import is_uuid
from services.kit.logs import get_logger
from services.queue import events, metrics, rules, store, views

if TYPE_CHECKING:  # seats imports this module
    from services.queue.seats import Lanes

log = get_logger("jkn.queue.bookings")


@dataclass(frozen=True)
class Patient:
    noka: str
    status: str
    fktp_code: str


@dataclass(frozen=True)
class BookingRequest:
    account_id: str
    caller_noka: str
    schedule_id: str
    date: str
    noka: str | None = None
    referral_number: str | None = None
    visit_type: int = 0
    medical_record_number: str | None = None
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        """What makes a replay "the same request" for its Idempotency-Key."""
        facts = [self.schedule_id, self.date, self.noka or self.caller_noka, self.referral_number or "",
                 self.visit_type, self.medical_record_number or ""]
        return hashlib.sha256(json.dumps(facts).encode()).hexdigest()


async def patient_in_family(membership: membership_pb2_grpc.MembershipServiceStub, *, caller_noka: str,
                            noka: str) -> Patient:
    """Booking rule 7: the patient is the caller or a member of the caller's family (anyone else
    is "not found", so NOKAs cannot be probed)."""
    reply = await call_peer(membership.GetMembership(membership_pb2.GetMembershipRequest(noka=caller_noka)),
                            NOT_FOUND=NotFound("no such participant"))
    for member in reply.family:
        if member.noka == noka:
            active = member.status == membership_pb2.PARTICIPANT_STATUS_AKTIF
            return Patient(noka=member.noka, status="AKTIF" if active else "TIDAK_AKTIF", fktp_code=member.fktp.code)
    raise NotFound("no such participant in your family")


async def create(lanes: Lanes, request: BookingRequest, *, now: datetime) -> tuple[queue_pb2.Booking, bool]:
    """Book a seat; returns the booking and whether it was an idempotent replay.

    The checks, in order: a replayed Idempotency-Key; the session (none that day, or closed:
    BOOKING_WINDOW); a session already full (QUOTA_FULL before membership is asked: in a 06:00
    rush most attempts end here, many of them answered by one read of the session); the patient
    in the caller's family and AKTIF; the window; own FKTP or referral (`check_before_seat`); then
    the seat. From the session on, the attempt waits in its session's lane (`seats.Lanes`),
    which reads the session once for all the attempts waiting, and checks and seats them in
    batches, one transaction each."""
    if request.idempotency_key:
        replay = await _replay(lanes.pool, request)
        if replay is not None:
            return replay, True
    if not is_uuid(request.schedule_id):
        raise NotFound("no such schedule")
    visit_date = rules.parse_date(request.date)
    rules.check_request_sizes(medical_record_number=request.medical_record_number,
                              idempotency_key=request.idempotency_key)
    if not rules.bookable_at_all(visit_date, now=now):  # no session is made for such a date
        raise DomainError("bookings are for today up to 30 days ahead", code="BOOKING_WINDOW")
    return await lanes.book(request, visit_date, now=now)


async def check_before_seat(pool: asyncpg.Pool, request: BookingRequest, session: asyncpg.Record,
                            visit_date: date, patient: Patient, *, now: datetime) -> str | None:
    """Booking rules 4, 1 and 2 (or the referral rules) for ``patient``; returns the referral
    number a hospital booking carries."""
    facility_type = session["facility_type"]
    rules.check_active(patient.status)
    rules.check_booking_window(facility_type=facility_type, visit_date=visit_date, now=now,
                              session_end=session["end_time"])
    if facility_type == "FKTP":
        rules.check_own_fktp(facility_code=session["facility_code"], participant_fktp=patient.fktp_code)
        return None
    number = (request.referral_number or "").strip().upper()
    row = await store.referral(pool, number=number) if len(number) == rules.REFERRAL_LENGTH else None
    rules.check_referral(
        rules.Referral(row["number"], row["noka"], row["to_facility"], row["poli_code"], row["issued_on"],
                       row["valid_until"]) if row else None,
        number=number, noka=patient.noka, facility_code=session["facility_code"],
        poli_code=session["poli_code"], visit_date=visit_date, today=now.date())
    return number


async def book_one(pool: asyncpg.Pool, request: BookingRequest, visit_date: date, patient: Patient,
                   referral: str | None) -> tuple[queue_pb2.Booking, bool]:
    """One checked attempt in a transaction of its own (when a batch met a unique violation it
    could not foresee): the active-booking check, the seat, the booking."""
    session = await session_of(pool, request.schedule_id, visit_date)
    facility_type = session["facility_type"]
    try:
        booking = await _take_seat(pool, request, session, visit_date, patient, referral)
    except (asyncpg.UniqueViolationError, DomainError) as error:
        duplicate = isinstance(error, asyncpg.UniqueViolationError) or error.code == "DUPLICATE_BOOKING"
        if duplicate and request.idempotency_key:  # a concurrent twin with the same key got there first
            replay = await _replay(pool, request)
            if replay is not None:
                return replay, True
        if isinstance(error, DomainError):
            result = {"QUOTA_FULL": "quota_full", "DUPLICATE_BOOKING": "duplicate"}.get(error.code, "refused")
            metrics.BOOKINGS.labels(facility_type, result).inc()
            raise
        if error.constraint_name == "bookings_one_active":
            metrics.BOOKINGS.labels(facility_type, "duplicate").inc()
            raise DomainError("this participant already has a booking at this poli on that date",
                              code="DUPLICATE_BOOKING") from None
        raise
    metrics.BOOKINGS.labels(facility_type, "created").inc()
    if session["quota_jkn"]:
        metrics.QUOTA_FILL.labels(facility_type).observe(1 - booking.remaining_jkn / session["quota_jkn"])
    log.info("booking_created", extra={"facility": session["facility_code"], "poli": session["poli_code"],
                                       "date": visit_date.isoformat(), "seq": booking.queue_seq})
    return booking, False


async def session_of(pool: asyncpg.Pool, schedule_id: str, visit_date: date) -> asyncpg.Record:
    """The schedule's session on that date (made from the weekly hours on first use)."""
    session = await store.session(pool, schedule_id=schedule_id, day=visit_date)
    if session is None:
        if await store.schedule(pool, schedule_id=schedule_id) is None:
            raise NotFound("no such schedule")
        await store.ensure_sessions(pool, day=visit_date, schedule_ids=[schedule_id])
        session = await store.session(pool, schedule_id=schedule_id, day=visit_date)
        if session is None:
            raise DomainError("the doctor does not practise on that date", code="BOOKING_WINDOW")
    return session


async def _replay(pool: asyncpg.Pool, request: BookingRequest) -> queue_pb2.Booking | None:
    """Booking rule 8: the same Idempotency-Key returns the first answer, byte for byte (and takes
    no seat); the same key with a different request is an error."""
    assert request.idempotency_key
    existing = await store.booking_by_idempotency_key(pool, booked_by=request.account_id,
                                                      key=request.idempotency_key)
    if existing is None:
        return None
    if existing["request_fingerprint"] != request.fingerprint():
        raise rules.invalid("Idempotency-Key", "already used for a different booking request")
    metrics.BOOKINGS.labels(existing["facility_type"], "replayed").inc()
    return queue_pb2.Booking.FromString(existing["first_response"])


async def _take_seat(pool: asyncpg.Pool, request: BookingRequest, session: asyncpg.Record, visit_date: date,
                     patient: Patient, referral: str | None) -> queue_pb2.Booking:
    """Booking rules 3, 5 and 6 in one transaction: no active booking at this poli that day, one
    seat taken by a conditional UPDATE (never past the quota), the next sequence number."""
    facility, poli = session["facility_code"], session["poli_code"]
    async with pool.acquire() as conn, conn.transaction():
        if await store.has_active_booking(conn, noka=patient.noka, facility_code=facility, poli_code=poli,
                                          day=visit_date):
            raise DomainError("this participant already has a booking at this poli on that date",
                              code="DUPLICATE_BOOKING")
        seat = await store.take_seat(conn, schedule_id=request.schedule_id, day=visit_date)
        if seat is None:
            raise DomainError("no JKN seats left for this session", code="QUOTA_FULL")
        record = (request.medical_record_number or "").strip() or None
        if record:
            await store.remember_medical_record(conn, facility_code=facility, noka=patient.noka, number=record)
        else:
            record = await store.known_medical_record(conn, facility_code=facility, noka=patient.noka)
        code = rules.booking_code(visit_date, poli)
        await store.insert_booking(
            conn, code=code, schedule_id=request.schedule_id, day=visit_date, facility_code=facility,
            poli_code=poli, seq=seat["seq"], noka=patient.noka, booked_by=request.account_id, status="BOOKED",
            visit_type=request.visit_type, referral_number=referral, medical_record_number=record,
            new_patient=record is None, idempotency_key=request.idempotency_key,
            request_fingerprint=request.fingerprint())
        answer = views.booking(await events.announce(conn, code, events.BookingCreated))
        await store.set_first_response(conn, code=code, body=answer.SerializeToString())
        return answer


async def owned(pool: asyncpg.Pool | asyncpg.Connection, *, account_id: str, noka: str, code: str) -> asyncpg.Record:
    """A booking the caller made or is the patient of; anyone else's is "not found"."""
    row = await store.booking(pool, code=code.strip().upper()) if code else None
    if row is None or (str(row["booked_by"]) != account_id and row["noka"] != noka):
        raise NotFound("no such booking")
    return row


@dataclass(frozen=True)
class Progress:
    """A booking's live status: the number served most recently (None before the first), how many
    are still waiting ahead, and when its turn is expected."""
    now_serving: str | None
    ahead: int
    estimated_service_at: datetime


async def read(pool: asyncpg.Pool, *, account_id: str, noka: str, code: str,
               now: datetime) -> tuple[asyncpg.Record, Progress]:
    """The caller's booking (`owned`) with its live progress."""
    row = await owned(pool, account_id=account_id, noka=noka, code=code)
    return row, await progress(pool, row, now=now)


async def progress(pool: asyncpg.Pool, row: asyncpg.Record, *, now: datetime) -> Progress:
    """Live status: the number served most recently, how many are still waiting ahead, and the
    estimate recomputed from the day's pace (`rules.live_estimate`)."""
    planned = rules.estimated_service_at(visit_date=row["date"], start=row["start_time"], seq=row["seq"])
    queue = await store.queue_state(pool, schedule_id=row["schedule_id"], day=row["date"])
    started = [b for b in queue if b["service_at"] is not None]
    now_serving = None
    if started:
        latest = max(started, key=lambda b: b["service_at"])
        now_serving = rules.queue_number(latest["poli_code"], latest["seq"])
    if row["status"] not in ("BOOKED", "CHECKED_IN"):
        return Progress(now_serving, 0, planned)
    ahead = sum(1 for b in queue if b["seq"] < row["seq"] and b["status"] in ("BOOKED", "CHECKED_IN"))
    estimate = rules.live_estimate(planned=planned, service_starts=[b["service_at"] for b in started],
                                   ahead=ahead, now=now)
    return Progress(now_serving, ahead, estimate)


async def cancel(pool: asyncpg.Pool, *, account_id: str, noka: str, code: str, reason: str,
                 now: datetime) -> asyncpg.Record:
    """Cancellation rule, by the participant: the seat is free at once."""
    async with pool.acquire() as conn, conn.transaction():
        row = await owned(conn, account_id=account_id, noka=noka, code=code)
        return await cancel_in(conn, row["code"], by="participant", reason=reason, today=now.date())


async def cancel_in(conn: asyncpg.Connection, code: str, *, by: str, reason: str, today: date) -> asyncpg.Record:
    """Cancel ``code`` inside the caller's transaction (participant or facility). Locks the
    session, then the booking (`store.lock_session`: one lock order everywhere)."""
    current = await store.booking_row(conn, code=code)
    assert current is not None
    await store.lock_session(conn, schedule_id=current["schedule_id"], day=current["date"])
    locked = await store.booking_for_update(conn, code=code)
    assert locked is not None
    rules.check_cancellable(status=locked["status"], visit_date=locked["date"], today=today)
    await store.set_status(conn, code=code, status="CANCELLED", cancelled_at=datetime.now(JAKARTA), cancelled_by=by,
                           cancel_reason=reason[:200] or None)
    await store.free_seat(conn, schedule_id=locked["schedule_id"], day=locked["date"])
    row = await events.announce(conn, code, events.BookingCancelled, by=events.CANCELLED_BY[by],
                                reason=reason[:200])
    metrics.CANCELLATIONS.labels(by).inc()
    return row
