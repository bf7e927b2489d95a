"""Participant bookings: create, read with live progress, cancel (the order of the checks and
the one transaction that takes a seat). The rules themselves are in `rules`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg

from jkn.membership.v1 import membership_pb2, membership_pb2_grpc
from jkn.queue.v1 import queue_pb2
from services.kit.clock import JAKARTA
from services.kit.errors import DomainError, NotFound, call_peer
from services.kit.ids import is_uuid
from services.kit.logs import get_logger
from services.queue import events, metrics, rules, store, views, waitlist

if TYPE_CHECKING:  # seats and waitlist import this module
    from services.queue.seats import Lanes
    from services.queue.waitlist import Handoff

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
        return await write_booking(
            conn, code=rules.booking_code(visit_date, poli), schedule_id=request.schedule_id, day=visit_date,
            facility_code=facility, poli_code=poli, seq=seat["seq"], noka=patient.noka, booked_by=request.account_id,
            visit_type=request.visit_type, referral=referral, medical_record_number=request.medical_record_number,
            idempotency_key=request.idempotency_key, fingerprint=request.fingerprint())


async def write_booking(conn: asyncpg.Connection, *, code: str, schedule_id: str, day: date, facility_code: str,
                        poli_code: str, seq: int, noka: str, booked_by: str, visit_type: int, referral: str | None,
                        medical_record_number: str | None, idempotency_key: str | None, fingerprint: str,
                        rescheduled_from: str | None = None, waitlist_id: str | None = None,
                        from_waitlist: bool = False) -> queue_pb2.Booking:
    """A BOOKED booking on a seat the caller has counted (numbered ``seq``), its medical record
    number remembered (or the one known used), its BookingCreated event and its first answer."""
    record = (medical_record_number or "").strip() or None
    if record:
        await store.remember_medical_record(conn, facility_code=facility_code, noka=noka, number=record)
    else:
        record = await store.known_medical_record(conn, facility_code=facility_code, noka=noka)
    await store.insert_booking(
        conn, code=code, schedule_id=schedule_id, day=day, facility_code=facility_code, poli_code=poli_code, seq=seq,
        noka=noka, booked_by=booked_by, status="BOOKED", visit_type=visit_type, referral_number=referral,
        medical_record_number=record, new_patient=record is None, idempotency_key=idempotency_key,
        request_fingerprint=fingerprint, rescheduled_from=rescheduled_from, waitlist_id=waitlist_id)
    answer = views.booking(await events.announce(conn, code, events.BookingCreated, from_waitlist=from_waitlist,
                                                 rescheduled=rescheduled_from is not None))
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


async def cancel(pool: asyncpg.Pool, handoff: Handoff, *, account_id: str, noka: str, code: str, reason: str,
                 now: datetime) -> asyncpg.Record:
    """Cancellation rule, by the participant: the seat is free at once (and goes to the waitlist)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await owned(conn, account_id=account_id, noka=noka, code=code)
        return await cancel_in(conn, handoff, row["code"], by="participant", reason=reason, now=now)


async def cancel_in(conn: asyncpg.Connection, handoff: Handoff | None, code: str, *, by: str, reason: str,
                    now: datetime, told: str | None = None, alternative: str = "") -> asyncpg.Record:
    """Cancel ``code`` inside the caller's transaction (participant or facility). Locks the
    session, then the booking (`store.lock_session`: one lock order everywhere). The freed seat
    goes to the session's waitlist in the same transaction (`waitlist.give_free_seats`; none when
    ``handoff`` is None: a closed session). ``reason`` is stored; ``told`` (default: the reason)
    is what the patient's message says."""
    current = await store.booking_row(conn, code=code)
    assert current is not None
    await store.lock_session(conn, schedule_id=current["schedule_id"], day=current["date"])
    locked = await store.booking_for_update(conn, code=code)
    assert locked is not None
    rules.check_cancellable(status=locked["status"], visit_date=locked["date"], today=now.astimezone(JAKARTA).date())
    await store.set_status(conn, code=code, status="CANCELLED", cancelled_at=datetime.now(JAKARTA), cancelled_by=by,
                           cancel_reason=reason[:200] or None)
    non_jkn = locked["kind"] == "NON_JKN"  # its seat goes back to the non-JKN quota, never to the waitlist
    await store.free_seat(conn, schedule_id=locked["schedule_id"], day=locked["date"], non_jkn=non_jkn)
    coded = reason if reason in (rules.DOCTOR_ABSENT, rules.RESCHEDULED) else ""
    row = await events.announce(conn, code, events.BookingCancelled, by=events.CANCELLED_BY[by],
                                reason=(told if told is not None else reason)[:200], reason_code=coded,
                                alternative=alternative[:200])
    metrics.CANCELLATIONS.labels(by).inc()
    if handoff is not None and not non_jkn:
        await waitlist.give_free_seats(conn, handoff, schedule_id=str(locked["schedule_id"]), day=locked["date"],
                                       now=now)
    return row


# --- reschedule and a doctor's absence (CONTRACT.md §7) -----------------------------------------

@dataclass(frozen=True)
class RescheduleRequest:
    account_id: str
    caller_noka: str
    booking_code: str
    schedule_id: str
    date: str
    referral_number: str | None = None
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        """What makes a replay "the same request" for its Idempotency-Key (never equal to a
        booking's: a key used for one cannot replay the other)."""
        facts = ["reschedule", self.booking_code.strip().upper(), self.schedule_id, self.date,
                 (self.referral_number or "").strip().upper()]
        return hashlib.sha256(json.dumps(facts).encode()).hexdigest()


async def reschedule(pool: asyncpg.Pool, handoff: Handoff, request: RescheduleRequest, *,
                     now: datetime) -> tuple[queue_pb2.Booking, bool]:
    """Move a booking to another session; returns the new booking and whether it was a replay.

    The checks, in order: a replayed Idempotency-Key; the booking is the caller's (NOT_FOUND) and
    may be moved (`rules.check_reschedulable`); the new session (none, or closed: BOOKING_WINDOW);
    the patient in the caller's family and AKTIF, the window, own FKTP or the referral — for a
    hospital the old one carries over to the same hospital and poli (`rules.carried_referral`).
    Then one transaction: both sessions locked in the one order (`store.lock_sessions`), the old
    booking checked again under its lock, no other active booking at the new poli that day, the
    new seat taken (QUOTA_FULL) — and only then the old booking cancelled (RESCHEDULED,
    ``rescheduled_to``) and its seat freed, to the old session's waitlist. Any refusal rolls all
    of it back: the old booking stays exactly as it was. A booking cancelled DOCTOR_ABSENT only
    gets its ``rescheduled_to`` (its seat was freed when the session closed)."""
    if request.idempotency_key:
        replay = await _replay_reschedule(pool, request)
        if replay is not None:
            return replay, True
    try:
        return await _reschedule(pool, handoff, request, now=now)
    except (DomainError, asyncpg.UniqueViolationError):
        # a concurrent twin with the same key may have moved the booking first (this one then finds
        # it moved, or meets the key's unique index): its answer is this one's too
        if request.idempotency_key:
            replay = await _replay_reschedule(pool, request)
            if replay is not None:
                return replay, True
        raise


async def _reschedule(pool: asyncpg.Pool, handoff: Handoff, request: RescheduleRequest, *,
                      now: datetime) -> tuple[queue_pb2.Booking, bool]:
    rules.check_request_sizes(medical_record_number=None, idempotency_key=request.idempotency_key)
    old = await owned(pool, account_id=request.account_id, noka=request.caller_noka, code=request.booking_code)
    _check_reschedulable(old, now=now)
    if not is_uuid(request.schedule_id):
        raise NotFound("no such schedule")
    visit_date = rules.parse_date(request.date)
    if not rules.bookable_at_all(visit_date, now=now):
        raise DomainError("bookings are for today up to 30 days ahead", code="BOOKING_WINDOW")
    session = await session_of(pool, request.schedule_id, visit_date)
    if session["closed"]:
        raise DomainError("the doctor does not practise on that date", code="BOOKING_WINDOW")
    patient = await patient_in_family(handoff.membership, caller_noka=request.caller_noka, noka=old["noka"])
    same_poli = (session["facility_code"], session["poli_code"]) == (old["facility_code"], old["poli_code"])
    referral = rules.carried_referral(given=request.referral_number, old_referral=old["referral_number"],
                                      same_poli=same_poli)
    as_booking = BookingRequest(account_id=request.account_id, caller_noka=request.caller_noka,
                                schedule_id=request.schedule_id, date=request.date, noka=old["noka"],
                                referral_number=referral, visit_type=old["visit_type"],
                                idempotency_key=request.idempotency_key)
    referral = await check_before_seat(pool, as_booking, session, visit_date, patient, now=now)
    try:
        booking, moved = await _move(pool, handoff, request, old, session, visit_date, referral, now=now)
    except asyncpg.UniqueViolationError as error:
        if error.constraint_name == "bookings_one_active":
            raise DomainError("this participant already has a booking at this poli on that date",
                              code="DUPLICATE_BOOKING") from None
        raise
    metrics.RESCHEDULES.labels(moved).inc()
    if moved == "doctor_absent":
        metrics.REBOOKED.inc()
    log.info("booking_rescheduled", extra={"facility": session["facility_code"], "poli": session["poli_code"],
                                           "date": visit_date.isoformat(), "seq": booking.queue_seq, "moved": moved})
    return booking, False


def _check_reschedulable(row: asyncpg.Record, *, now: datetime) -> None:
    rules.check_reschedulable(status=row["status"], cancel_reason=row["cancel_reason"],
                              cancelled_at=row["cancelled_at"], rescheduled_to=row["rescheduled_to"],
                              visit_date=row["date"], now=now)


async def _move(pool: asyncpg.Pool, handoff: Handoff, request: RescheduleRequest, old: asyncpg.Record,
                session: asyncpg.Record, visit_date: date, referral: str | None, *,
                now: datetime) -> tuple[queue_pb2.Booking, str]:
    """The reschedule's one transaction (see `reschedule`)."""
    facility, poli = session["facility_code"], session["poli_code"]
    old_session = (str(old["schedule_id"]), old["date"])
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_sessions(conn, keys=[old_session, (request.schedule_id, visit_date)])
        locked = await store.booking_for_update(conn, code=old["code"])
        assert locked is not None
        _check_reschedulable(locked, now=now)
        if await store.has_other_active_booking(conn, noka=old["noka"], facility_code=facility, poli_code=poli,
                                                day=visit_date, other_than=old["code"]):
            raise DomainError("this participant already has a booking at this poli on that date",
                              code="DUPLICATE_BOOKING")
        seat = await store.take_seat(conn, schedule_id=request.schedule_id, day=visit_date)
        if seat is None:
            raise DomainError("no JKN seats left for this session", code="QUOTA_FULL")
        code = rules.booking_code(visit_date, poli)
        was_booked = locked["status"] == "BOOKED"
        if was_booked:  # cancelled first: the one-active-booking index must not see both
            await store.set_status(conn, code=old["code"], status="CANCELLED", cancelled_at=datetime.now(JAKARTA),
                                   cancelled_by="participant", cancel_reason=rules.RESCHEDULED)
            await store.free_seat(conn, schedule_id=old_session[0], day=old_session[1])
        await store.set_rescheduled_to(conn, code=old["code"], to=code)
        booking = await write_booking(
            conn, code=code, schedule_id=request.schedule_id, day=visit_date, facility_code=facility, poli_code=poli,
            seq=seat["seq"], noka=old["noka"], booked_by=request.account_id, visit_type=old["visit_type"],
            referral=referral, medical_record_number=old["medical_record_number"] if facility == old["facility_code"]
            else None, idempotency_key=request.idempotency_key, fingerprint=request.fingerprint(),
            rescheduled_from=old["code"])
        if was_booked:
            await events.announce(conn, old["code"], events.BookingCancelled, by=events.CANCELLED_BY["participant"],
                                  reason=rules.RESCHEDULED, reason_code=rules.RESCHEDULED)
            metrics.CANCELLATIONS.labels("participant").inc()
            await waitlist.give_free_seats(conn, handoff, schedule_id=old_session[0], day=old_session[1], now=now)
    return booking, "booked" if was_booked else "doctor_absent"


async def _replay_reschedule(pool: asyncpg.Pool, request: RescheduleRequest) -> queue_pb2.Booking | None:
    """Booking rule 8 for a reschedule: the same Idempotency-Key returns the first new booking."""
    assert request.idempotency_key
    existing = await store.booking_by_idempotency_key(pool, booked_by=request.account_id,
                                                      key=request.idempotency_key)
    if existing is None:
        return None
    if existing["request_fingerprint"] != request.fingerprint():
        raise rules.invalid("Idempotency-Key", "already used for a different request")
    return queue_pb2.Booking.FromString(existing["first_response"])


async def alternatives(pool: asyncpg.Pool, row: asyncpg.Record, *, now: datetime) -> list[asyncpg.Record]:
    """A doctor's absence: for a booking cancelled DOCTOR_ABSENT (and not moved yet), every open
    session of the same facility and poli from today up to 14 days after the cancellation with
    free seats and within the booking window, earliest first (`rules.alternative_dates`)."""
    if row["status"] != "CANCELLED" or row["cancel_reason"] != rules.DOCTOR_ABSENT or row["rescheduled_to"]:
        return []
    cancelled_on = (row["cancelled_at"] or now).astimezone(JAKARTA).date()
    return await alternatives_for(pool, facility_code=row["facility_code"], poli_code=row["poli_code"],
                                  facility_type=row["facility_type"], excluding=(str(row["schedule_id"]), row["date"]),
                                  cancelled_on=cancelled_on, now=now)


async def alternatives_for(conn: asyncpg.Pool | asyncpg.Connection, *, facility_code: str, poli_code: str,
                           facility_type: str, excluding: tuple[str, date], cancelled_on: date,
                           now: datetime) -> list[asyncpg.Record]:
    """The sessions `alternatives` lists (their sessions made from the weekly hours first)."""
    first, last = rules.alternative_dates(cancelled_on=cancelled_on, today=now.astimezone(JAKARTA).date())
    day = first
    while day <= last:
        if rules.published_dates(day, now=now):
            await store.ensure_sessions(conn, day=day, facility_code=facility_code)
        day += timedelta(days=1)
    rows = await store.alternatives(conn, facility_code=facility_code, poli_code=poli_code, from_date=first,
                                    until=last, now=now, excluding=excluding)
    bookable = []
    for candidate in rows:
        try:
            rules.check_booking_window(facility_type=facility_type, visit_date=candidate["date"], now=now,
                                       session_end=candidate["end_time"])
        except DomainError:
            continue
        bookable.append(candidate)
    return bookable
