"""The waitlist of a full session (CONTRACT.md §7 "Waitlist"): join, list, leave, accept an
offer — and the hand-off of a freed seat to the first waiting entry, in the transaction that
frees it (`give_free_seats`), so a seat never goes to whoever happens to ask next.

The rules, in order:
1. only a full session has a waitlist (SEATS_AVAILABLE otherwise); the booking rules (the
   patient in the caller's family and AKTIF, the window, own FKTP or a referral) apply on
   joining; one live entry per participant, poli and date, and none for a participant who
   already holds a booking there (DUPLICATE_BOOKING);
2. first come, first served per session (the entry's arrival ``seq``);
3. a freed seat (a cancellation, a reschedule away, task 99 before the date, an offer that
   lapsed or was given up, a quota raised) goes to the first WAITING entry whose booking rules
   still hold (an entry that no longer meets them ends ``NOT_ELIGIBLE``): with ``auto_accept``
   it is booked at once, otherwise it is held for the entry (OFFERED, counted in the session's
   seats) until ``offer_expires_at``; an offer not accepted by then EXPIRES and the seat passes on;
4. entries of a session that closes end (``SESSION_CLOSED``), those of a date that has passed
   expire (``DATE_PASSED``).

Every change locks the session row first, then entries and bookings (the one lock order of
`store.lock_session`), so the quota check under that lock holds against the group-commit lanes,
cancellations, reschedules and expiries on any replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg
import grpc

from jkn.membership.v1 import membership_pb2_grpc
from jkn.queue.v1 import queue_pb2
from services.kit.errors import DomainError, NotFound
from services.kit.ids import is_uuid
from services.kit.logs import get_logger
from services.queue import bookings, events, metrics, rules, store, views

log = get_logger("jkn.queue.waitlist")


@dataclass(frozen=True)
class Handoff:
    """What giving a freed seat needs: membership (the patient's rules are checked again) and how
    long an offered seat is held."""

    membership: membership_pb2_grpc.MembershipServiceStub
    hold_s: float = 900


@dataclass(frozen=True)
class JoinRequest:
    account_id: str
    caller_noka: str
    schedule_id: str
    date: str
    noka: str | None = None
    referral_number: str | None = None
    auto_accept: bool = True


def _duplicate() -> DomainError:
    return DomainError("this participant already has a booking or a waitlist entry at this poli on that date",
                       code="DUPLICATE_BOOKING")


async def join(pool: asyncpg.Pool, handoff: Handoff, request: JoinRequest, *, now: datetime) -> asyncpg.Record:
    """Rule 1: a new WAITING entry at the end of the session's line (a `store.waitlist_entry` view)."""
    if not is_uuid(request.schedule_id):
        raise NotFound("no such schedule")
    visit_date = rules.parse_date(request.date)
    if not rules.bookable_at_all(visit_date, now=now):
        raise DomainError("bookings are for today up to 30 days ahead", code="BOOKING_WINDOW")
    session = await bookings.session_of(pool, request.schedule_id, visit_date)
    if session["closed"]:
        raise DomainError("the doctor does not practise on that date", code="BOOKING_WINDOW")
    noka = request.noka or request.caller_noka
    patient = await bookings.patient_in_family(handoff.membership, caller_noka=request.caller_noka, noka=noka)
    referral = await bookings.check_before_seat(
        pool, bookings.BookingRequest(account_id=request.account_id, caller_noka=request.caller_noka,
                                      schedule_id=request.schedule_id, date=request.date, noka=noka,
                                      referral_number=request.referral_number),
        session, visit_date, patient, now=now)
    facility, poli = session["facility_code"], session["poli_code"]
    try:
        async with pool.acquire() as conn, conn.transaction():
            locked = await store.session_for_update(conn, schedule_id=request.schedule_id, day=visit_date)
            if locked is None or locked["closed"]:
                raise DomainError("the doctor does not practise on that date", code="BOOKING_WINDOW")
            if await store.has_active_booking(conn, noka=patient.noka, facility_code=facility, poli_code=poli,
                                              day=visit_date) or await store.has_live_entry(
                    conn, noka=patient.noka, facility_code=facility, poli_code=poli, day=visit_date):
                raise _duplicate()
            rules.check_joinable(quota_jkn=locked["quota_jkn"], taken_jkn=locked["taken_jkn"])
            waitlist_id = await store.insert_waitlist(
                conn, schedule_id=request.schedule_id, day=visit_date, facility_code=facility, poli_code=poli,
                noka=patient.noka, caller_noka=request.caller_noka, booked_by=request.account_id,
                referral_number=referral, auto_accept=request.auto_accept)
            row = await store.waitlist_entry(conn, waitlist_id=waitlist_id)
    except asyncpg.UniqueViolationError:  # a twin of this join committed first
        raise _duplicate() from None
    assert row is not None
    metrics.WAITLIST_JOINS.labels(session["facility_type"]).inc()
    log.info("waitlist_joined", extra={"facility": facility, "poli": poli, "date": visit_date.isoformat(),
                                       "position": row["position"]})
    return row


async def entries(pool: asyncpg.Pool, *, account_id: str, noka: str) -> list[asyncpg.Record]:
    """The caller's entries and those the caller made for family members, with live positions."""
    return await store.waitlist_of(pool, booked_by=account_id, noka=noka, limit=100)


async def _owned(conn: asyncpg.Connection, *, account_id: str, noka: str, waitlist_id: str) -> asyncpg.Record:
    """An entry the caller made or is the patient of; anyone else's is "not found"."""
    row = await store.waitlist_row(conn, waitlist_id=waitlist_id) if is_uuid(waitlist_id) else None
    if row is None or (str(row["booked_by"]) != account_id and row["noka"] != noka):
        raise NotFound("no such waitlist entry")
    return row


async def leave(pool: asyncpg.Pool, handoff: Handoff, *, account_id: str, noka: str, waitlist_id: str,
                now: datetime) -> asyncpg.Record:
    """Leaving ends a live entry (CANCELLED, ``LEFT``); a seat it held passes to the next entry.
    Leaving an entry that has already ended changes nothing."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _owned(conn, account_id=account_id, noka=noka, waitlist_id=waitlist_id)
        await store.lock_session(conn, schedule_id=row["schedule_id"], day=row["date"])
        locked = await store.waitlist_for_update(conn, waitlist_id=waitlist_id)
        assert locked is not None
        if locked["status"] in store.LIVE:
            await store.set_waitlist_status(conn, waitlist_id=waitlist_id, status="CANCELLED", end_reason="LEFT")
            metrics.WAITLIST_ENDED.labels("left").inc()
            if locked["status"] == "OFFERED":
                await store.free_seat(conn, schedule_id=row["schedule_id"], day=row["date"])
                await give_free_seats(conn, handoff, schedule_id=row["schedule_id"], day=row["date"], now=now)
        view = await store.waitlist_entry(conn, waitlist_id=waitlist_id)
    assert view is not None
    return view


async def accept(pool: asyncpg.Pool, handoff: Handoff, *, account_id: str, noka: str, waitlist_id: str,
                 now: datetime) -> queue_pb2.Booking:
    """Rule 3: an OFFERED entry books its held seat until ``offer_expires_at``; after it the offer
    expires (the seat passes on) and the answer is OFFER_EXPIRED. Accepting again returns the
    booking made; an entry still waiting (or ended otherwise) holds no offer (NOT_OFFERED)."""
    refusal: DomainError | None = None
    booking: queue_pb2.Booking | None = None
    async with pool.acquire() as conn, conn.transaction():
        row = await _owned(conn, account_id=account_id, noka=noka, waitlist_id=waitlist_id)
        schedule_id, day = str(row["schedule_id"]), row["date"]
        await store.lock_session(conn, schedule_id=schedule_id, day=day)
        entry = await store.waitlist_for_update(conn, waitlist_id=waitlist_id)
        assert entry is not None
        if entry["status"] == "BOOKED" and entry["booking_code"]:
            found = await store.booking(conn, code=entry["booking_code"])
            assert found is not None
            booking = views.booking(found)
        elif entry["status"] == "OFFERED" and entry["offer_expires_at"] <= now:
            await _expire_offer(conn, handoff, entry, now=now)
            refusal = _offer_expired()
        elif entry["status"] == "OFFERED" and await store.has_active_booking(
                conn, noka=entry["noka"], facility_code=entry["facility_code"], poli_code=entry["poli_code"], day=day):
            await _end(conn, entry, status="CANCELLED", reason="NOT_ELIGIBLE")
            await store.free_seat(conn, schedule_id=schedule_id, day=day)
            await give_free_seats(conn, handoff, schedule_id=schedule_id, day=day, now=now)
            refusal = _duplicate()
        elif entry["status"] == "OFFERED":
            booking = await _book_entry(conn, entry, held=True)
            metrics.WAITLIST_SEATS.labels("accepted").inc()
        elif entry["status"] == "EXPIRED":
            refusal = _offer_expired()
        else:
            refusal = DomainError("no seat is on offer for this entry", code="NOT_OFFERED")
    if refusal is not None:
        raise refusal
    assert booking is not None
    return booking


def _offer_expired() -> DomainError:
    return DomainError("the seat offered was not accepted in time and went to the next in line",
                       code="OFFER_EXPIRED")


async def give_free_seats(conn: asyncpg.Connection, handoff: Handoff, *, schedule_id: str, day: date,
                          now: datetime) -> int:
    """Rule 3, inside the transaction that freed a seat (the caller holds the session's lock):
    while the session has a free seat and a WAITING entry, the first entry whose rules still
    hold gets it. Returns the seats given."""
    session: asyncpg.Record | None = None
    given = 0
    while True:
        counts = await store.lock_session_seats(conn, schedule_id=schedule_id, day=day)
        if counts is None or counts["closed"] or counts["taken_jkn"] >= counts["quota_jkn"]:
            break
        entry = await store.waitlist_head(conn, schedule_id=schedule_id, day=day)
        if entry is None:
            break
        if session is None:  # read only when someone waits (most cancellations find nobody)
            session = await store.session(conn, schedule_id=schedule_id, day=day)
            assert session is not None
        if not await _still_eligible(conn, handoff, entry, session, now=now):
            await _end(conn, entry, status="CANCELLED", reason="NOT_ELIGIBLE")
            continue
        if entry["auto_accept"]:
            await _book_entry(conn, entry, held=False)
            metrics.WAITLIST_SEATS.labels("auto").inc()
        else:
            if not await store.hold_seat(conn, schedule_id=schedule_id, day=day):
                break
            await store.set_waitlist_status(conn, waitlist_id=str(entry["id"]), status="OFFERED",
                                            offer_expires_at=rules.offer_expires_at(now, hold_s=handoff.hold_s))
            await events.announce_entry(conn, str(entry["id"]), events.WaitlistOffered)
            metrics.WAITLIST_SEATS.labels("offered").inc()
        given += 1
    if given and session is not None:
        log.info("waitlist_seats_given", extra={"facility": session["facility_code"], "poli": session["poli_code"],
                                                "date": day.isoformat(), "count": given})
    return given


async def _still_eligible(conn: asyncpg.Connection, handoff: Handoff, entry: asyncpg.Record,
                          session: asyncpg.Record, *, now: datetime) -> bool:
    """The booking rules again when a seat is given: no active booking there meanwhile, the window
    (the session not ended), the patient still in the caller's family and AKTIF, own FKTP, the
    referral still valid. Membership out of reach leaves its part to the check made on joining."""
    day = entry["date"]
    if await store.has_active_booking(conn, noka=entry["noka"], facility_code=entry["facility_code"],
                                      poli_code=entry["poli_code"], day=day):
        return False
    try:
        rules.check_booking_window(facility_type=session["facility_type"], visit_date=day, now=now,
                                   session_end=session["end_time"])
        try:
            patient: bookings.Patient | None = await bookings.patient_in_family(
                handoff.membership, caller_noka=entry["caller_noka"], noka=entry["noka"])
        except grpc.aio.AioRpcError:
            patient = None
        if patient is not None:
            rules.check_active(patient.status)
        if session["facility_type"] == "FKTP":
            if patient is not None:
                rules.check_own_fktp(facility_code=session["facility_code"], participant_fktp=patient.fktp_code)
            return True
        number = entry["referral_number"] or ""
        found = await store.referral(conn, number=number) if number else None
        rules.check_referral(
            rules.Referral(found["number"], found["noka"], found["to_facility"], found["poli_code"],
                           found["issued_on"], found["valid_until"]) if found else None,
            number=number, noka=entry["noka"], facility_code=session["facility_code"],
            poli_code=session["poli_code"], visit_date=day, today=now.date())
    except DomainError:
        return False
    return True


async def _book_entry(conn: asyncpg.Connection, entry: asyncpg.Record, *, held: bool) -> queue_pb2.Booking:
    """The entry's booking: on the seat it holds (an accepted offer), or on a free one taken now."""
    schedule_id, day = str(entry["schedule_id"]), entry["date"]
    if held:
        seq = await store.next_seq(conn, schedule_id=schedule_id, day=day)
    else:
        seat = await store.take_seat(conn, schedule_id=schedule_id, day=day)
        assert seat is not None, "the caller saw a free seat under the session's lock"
        seq = seat["seq"]
    waitlist_id = str(entry["id"])
    code = rules.booking_code(day, entry["poli_code"])
    booking = await bookings.write_booking(
        conn, code=code, schedule_id=schedule_id, day=day, facility_code=entry["facility_code"],
        poli_code=entry["poli_code"], seq=seq, noka=entry["noka"], booked_by=str(entry["booked_by"]),
        visit_type=0, referral=entry["referral_number"], medical_record_number=None, idempotency_key=None,
        fingerprint=f"waitlist:{waitlist_id}", waitlist_id=waitlist_id, from_waitlist=True)
    await store.set_waitlist_status(conn, waitlist_id=waitlist_id, status="BOOKED", booking_code=code)
    log.info("waitlist_booked", extra={"facility": entry["facility_code"], "poli": entry["poli_code"],
                                       "date": day.isoformat(), "seq": seq})
    return booking


async def _end(conn: asyncpg.Connection, entry: asyncpg.Record, *, status: str, reason: str) -> None:
    """End a live entry without a seat, and tell its account."""
    waitlist_id = str(entry["id"])
    await store.set_waitlist_status(conn, waitlist_id=waitlist_id, status=status, end_reason=reason)
    await events.announce_entry(conn, waitlist_id, events.WaitlistEnded, reason=reason)
    metrics.WAITLIST_ENDED.labels(reason.lower()).inc()


async def _expire_offer(conn: asyncpg.Connection, handoff: Handoff, entry: asyncpg.Record, *,
                        now: datetime) -> None:
    """Rule 3: an offer not accepted in time expires and its seat passes to the next entry."""
    waitlist_id, schedule_id, day = str(entry["id"]), str(entry["schedule_id"]), entry["date"]
    await store.set_waitlist_status(conn, waitlist_id=waitlist_id, status="EXPIRED", end_reason="OFFER_EXPIRED")
    await events.announce_entry(conn, waitlist_id, events.WaitlistOfferExpired)
    metrics.WAITLIST_SEATS.labels("expired").inc()
    await store.free_seat(conn, schedule_id=schedule_id, day=day)
    await give_free_seats(conn, handoff, schedule_id=schedule_id, day=day, now=now)


async def end_for_closed_session(conn: asyncpg.Connection, *, schedule_id: str, day: date) -> int:
    """Rule 4: a closed session's live entries end (``SESSION_CLOSED``) and their accounts are told;
    a seat one held is released (the caller holds the session's lock)."""
    ended = await store.live_entries_of_session(conn, schedule_id=schedule_id, day=day)
    for entry in ended:
        await _end(conn, entry, status="CANCELLED", reason="SESSION_CLOSED")
        if entry["status"] == "OFFERED":
            await store.free_seat(conn, schedule_id=schedule_id, day=day)
    return len(ended)


async def expire_offers(pool: asyncpg.Pool, handoff: Handoff, *, now: datetime) -> int:
    """Rule 3, by the periodic job: offers past their hold expire, each seat passing on."""
    expired = 0
    for due in await store.expired_offers(pool, now=now):
        async with pool.acquire() as conn, conn.transaction():
            await store.lock_session(conn, schedule_id=str(due["schedule_id"]), day=due["date"])
            entry = await store.waitlist_for_update(conn, waitlist_id=str(due["id"]))
            if entry is not None and entry["status"] == "OFFERED" and entry["offer_expires_at"] <= now:
                await _expire_offer(conn, handoff, entry, now=now)
                expired += 1
    return expired


async def end_past_entries(pool: asyncpg.Pool, *, today: date) -> int:
    """Rule 4, by the periodic job: live entries of a date before ``today`` expire (``DATE_PASSED``)."""
    ended = 0
    for due in await store.sessions_with_past_entries(pool, today=today):
        schedule_id, day = str(due["schedule_id"]), due["date"]
        async with pool.acquire() as conn, conn.transaction():
            await store.lock_session(conn, schedule_id=schedule_id, day=day)
            for entry in await store.live_entries_of_session(conn, schedule_id=schedule_id, day=day):
                await _end(conn, entry, status="EXPIRED", reason="DATE_PASSED")
                if entry["status"] == "OFFERED":
                    await store.free_seat(conn, schedule_id=schedule_id, day=day)
                ended += 1
    return ended
