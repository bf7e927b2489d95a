"""What partner facilities do (CONTRACT.md §5): publish schedules, check patients in, report
task times, cancel, issue referrals. Every function takes the authenticated facility code and
acts only on that facility's own data."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import asyncpg

from jkn.membership.v1 import membership_pb2, membership_pb2_grpc
from services.kit.clock import JAKARTA
from services.kit.errors import DomainError, NotFound, PermissionDenied, call_peer
from services.kit.ids import is_noka, is_uuid
from services.kit.logs import get_logger
from services.queue import bookings, events, metrics, rules, store, waitlist
from services.queue.waitlist import Handoff

log = get_logger("jkn.queue.partner")


def from_epoch_ms(at_ms: int, field: str = "at") -> datetime:
    """Hospitals send instants as Unix epoch milliseconds."""
    if not 946_684_800_000 <= at_ms <= 4_102_444_800_000:  # 2000-01-01 .. 2100-01-01
        raise rules.invalid(field, "Unix epoch milliseconds")
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC)


async def known_facility(pool: asyncpg.Pool, facility: str) -> str:
    """The signed caller (its signature already checked): a facility the platform does not know is
    refused (PERMISSION_DENIED)."""
    if await store.facility(pool, code=facility) is None:
        raise PermissionDenied("unknown facility")
    return facility


async def own_booking(conn: asyncpg.Pool | asyncpg.Connection, facility: str, code: str) -> asyncpg.Record:
    """The booking (not locked) if it belongs to ``facility`` (another facility's: PERMISSION_DENIED)."""
    row = await store.booking_row(conn, code=code.strip().upper()) if code and len(code) <= 40 else None
    if row is None:
        raise NotFound("no such booking")
    if row["facility_code"] != facility:
        raise PermissionDenied("the booking belongs to another facility")
    return row


async def own_schedule(pool: asyncpg.Pool | asyncpg.Connection, facility: str, schedule_id: str) -> asyncpg.Record:
    row = await store.schedule(pool, schedule_id=schedule_id) if is_uuid(schedule_id) else None
    if row is None:
        raise NotFound("no such schedule")
    if row["facility_code"] != facility:
        raise PermissionDenied("the schedule belongs to another facility")
    return row


async def check_in(pool: asyncpg.Pool, facility: str, code: str, at_ms: int, *, now: datetime) -> asyncpg.Record:
    """Check-in rule (`rules.check_check_in`)."""
    at = from_epoch_ms(at_ms)
    async with pool.acquire() as conn, conn.transaction():
        row = await own_booking(conn, facility, code)
        locked = await store.booking_for_update(conn, code=row["code"])
        assert locked is not None
        rules.check_check_in(status=locked["status"], visit_date=locked["date"], at=at, now=now)
        await store.set_status(conn, code=row["code"], status="CHECKED_IN", checked_in_at=at)
        view = await events.announce(conn, row["code"], events.BookingCheckedIn)
    metrics.CHECK_INS.inc()
    return view


async def record_task(pool: asyncpg.Pool, handoff: Handoff, facility: str, code: str, task_id: int, at_ms: int, *,
                      now: datetime) -> asyncpg.Record:
    """Task rule (`rules.check_task`). A poli service start (task 4) may bring others' turn near;
    task 99 before the visit date is the facility cancelling (the seat is freed — to the
    waitlist — and the patient told), on or after it a no-show (the seat is freed)."""
    at = from_epoch_ms(at_ms)
    today = now.astimezone(JAKARTA).date()
    async with pool.acquire() as conn, conn.transaction():
        row = await own_booking(conn, facility, code)
        await store.lock_session(conn, schedule_id=row["schedule_id"], day=row["date"])
        locked = await store.booking_for_update(conn, code=row["code"])
        assert locked is not None
        recorded = await store.tasks_of(conn, code=row["code"])
        rules.check_task(task_id=task_id, recorded=recorded, status=locked["status"],
                         checked_in_at=locked["checked_in_at"], at=at, now=now)
        if task_id == rules.TASK_NO_SHOW and locked["date"] > today:
            await bookings.cancel_in(conn, handoff, row["code"], by="facility",
                                     reason="Dibatalkan oleh fasilitas kesehatan", now=now)
        elif task_id == rules.TASK_NO_SHOW:
            await store.set_status(conn, code=row["code"], status=rules.status_after_task(locked["status"], task_id))
            await store.free_seat(conn, schedule_id=row["schedule_id"], day=row["date"],
                                  non_jkn=locked["kind"] == "NON_JKN")
            await events.announce(conn, row["code"], events.BookingNoShow)
            metrics.CANCELLATIONS.labels("no_show").inc()
        else:
            status = rules.status_after_task(locked["status"], task_id)
            if status != locked["status"]:
                await store.set_status(conn, code=row["code"], status=status)
        await store.add_task(conn, code=row["code"], task_id=task_id, at=at, received_at=now)
        view = await events.announce(conn, row["code"], events.TaskRecorded, task_id=task_id)
        if task_id == 4:
            await _announce_turn_near(conn, row["schedule_id"], row["date"])
    previous = max((t for i, t in recorded.items() if i < task_id), default=locked["checked_in_at"])
    metrics.TASKS.labels(str(task_id)).inc()
    if previous is not None and task_id != rules.TASK_NO_SHOW:
        metrics.TASK_WAIT.labels(str(task_id)).observe((at - previous).total_seconds())
    return view


async def _announce_turn_near(conn: asyncpg.Connection, schedule_id: str, day: date) -> None:
    """Turn-near rule: a patient still waiting with three or fewer ahead is told once (the
    caller holds the session's lock, so two service starts never race here)."""
    waiting = [b for b in await store.queue_state(conn, schedule_id=schedule_id, day=day)
               if b["status"] in ("BOOKED", "CHECKED_IN")]
    due = [(b, ahead) for ahead, b in enumerate(waiting[:rules.TURN_NEAR_AHEAD + 1]) if not b["turn_near_sent"]]
    if not due:
        return
    await store.mark_turn_near(conn, codes=[b["code"] for b, _ in due])
    for booking, ahead in due:
        await events.announce(conn, booking["code"], events.TurnNear, ahead=ahead)


async def cancel(pool: asyncpg.Pool, handoff: Handoff, facility: str, code: str, reason: str, *,
                 now: datetime) -> asyncpg.Record:
    """Cancellation by the facility (same rule as the participant's); the patient is told, the seat
    goes to the waitlist."""
    if not reason.strip():
        raise rules.invalid("reason", "the reason shown to the patient")
    async with pool.acquire() as conn, conn.transaction():
        row = await own_booking(conn, facility, code)
        return await bookings.cancel_in(conn, handoff, row["code"], by="facility", reason=reason.strip(), now=now)


async def upsert_session(pool: asyncpg.Pool, handoff: Handoff, facility: str, *, poli_code: str,
                         poli_name: str | None, doctor_code: str, doctor_name: str, day: date, start: time, end: time,
                         quota_jkn: int, quota_non_jkn: int, closed: bool, now: datetime) -> str:
    """Schedule rule: a per-date session replaces the weekly hours on that date. A closed date (the
    doctor's absence, a holiday) cancels the bookings already made as DOCTOR_ABSENT and ends the
    waitlist (`close_bookings`); seats a raised quota adds go to the waitlist first."""
    today = now.astimezone(JAKARTA).date()
    rules.check_hours(start, end, quota_jkn, quota_non_jkn)
    if not today <= day <= today + timedelta(days=366):
        raise rules.invalid("date", "today up to a year ahead")
    async with pool.acquire() as conn, conn.transaction():
        schedule_id = await _schedule(conn, facility, poli_code, poli_name, doctor_code, doctor_name)
        await store.ensure_sessions(conn, day=day, schedule_ids=[schedule_id])
        current = await store.session_for_update(conn, schedule_id=schedule_id, day=day)
        if current is not None and not closed:
            rules.check_quota_change(quota_jkn=quota_jkn, taken_jkn=current["taken_jkn"])
        await store.upsert_session(conn, schedule_id=schedule_id, day=day, start=start, end=end,
                                   quota_jkn=quota_jkn, quota_non_jkn=quota_non_jkn, closed=closed)
        if closed:
            await close_bookings(conn, schedule_id=schedule_id, day=day, now=now)
        else:
            await waitlist.give_free_seats(conn, handoff, schedule_id=schedule_id, day=day, now=now)
    return schedule_id


async def close_bookings(conn: asyncpg.Connection, *, schedule_id: str, day: date, now: datetime) -> int:
    """A doctor's absence (the session already closed, its lock held): each BOOKED booking is
    cancelled as DOCTOR_ABSENT and its patient told, naming the earliest alternative (same
    facility and poli within 14 days, free seats: `bookings.alternatives_for`); the session's
    waitlist entries end and are told. Returns the bookings cancelled."""
    codes = await store.active_bookings_of_session(conn, schedule_id=schedule_id, day=day)
    await waitlist.end_for_closed_session(conn, schedule_id=schedule_id, day=day)
    if not codes:
        return 0
    session = await store.session(conn, schedule_id=schedule_id, day=day)
    assert session is not None
    options = await bookings.alternatives_for(
        conn, facility_code=session["facility_code"], poli_code=session["poli_code"],
        facility_type=session["facility_type"], excluding=(schedule_id, day),
        cancelled_on=now.astimezone(JAKARTA).date(), now=now)
    earliest = rules.describe_alternative(options[0]["date"], options[0]["start_time"], options[0]["doctor_name"],
                                          options[0]["quota_jkn"] - options[0]["taken_jkn"]) if options else ""
    for code in codes:
        await bookings.cancel_in(conn, None, code, by="facility", reason=rules.DOCTOR_ABSENT, now=now,
                                 told=rules.absence_message(earliest), alternative=earliest)
    metrics.DISPLACED.inc(len(codes))
    log.info("bookings_displaced_by_absence", extra={"facility": session["facility_code"],
                                                     "poli": session["poli_code"], "date": day.isoformat(),
                                                     "count": len(codes), "alternatives": len(options)})
    return len(codes)


async def upsert_weekly(pool: asyncpg.Pool, handoff: Handoff, facility: str, *, poli_code: str,
                        poli_name: str | None,
                        doctor_code: str, doctor_name: str, weekdays: list[int], start: time, end: time,
                        quota_jkn: int, quota_non_jkn: int, valid_from: date, valid_until: date | None,
                        now: datetime) -> str:
    """Schedule rule: new weekly hours on some weekdays from ``valid_from`` (today at the
    earliest) to ``valid_until``; the hours before stay as they were. Sessions already made from
    weekly hours follow at once (the quota never below the seats taken); a date left without
    hours is closed and its bookings cancelled (`close_bookings`), the patients told; seats a raised
    quota adds go to the sessions' waitlists first."""
    today = now.astimezone(JAKARTA).date()
    rules.check_hours(start, end, quota_jkn, quota_non_jkn)
    if not weekdays or any(not 1 <= d <= 7 for d in weekdays):
        raise rules.invalid("weekdays", "one or more weekdays")
    valid_from = max(valid_from, today)
    if valid_until is not None and valid_until < valid_from:
        raise rules.invalid("valid_until", "on or after valid_from (and today)")
    days = sorted(set(weekdays))
    async with pool.acquire() as conn, conn.transaction():
        schedule_id = await _schedule(conn, facility, poli_code, poli_name, doctor_code, doctor_name)
        followed = await store.lock_weekly_sessions(conn, schedule_id=schedule_id, weekdays=days,
                                                    from_date=valid_from)
        for session in followed:
            if valid_until is None or session["date"] <= valid_until:
                rules.check_quota_change(quota_jkn=quota_jkn, taken_jkn=session["taken_jkn"])
        await store.replace_weekly_hours(conn, schedule_id=schedule_id, weekdays=days, start=start, end=end,
                                         quota_jkn=quota_jkn, quota_non_jkn=quota_non_jkn, valid_from=valid_from,
                                         valid_until=valid_until)
        for day in await store.follow_weekly_hours(conn, schedule_id=schedule_id, from_date=valid_from):
            await store.close_session(conn, schedule_id=schedule_id, day=day)
            await close_bookings(conn, schedule_id=schedule_id, day=day, now=now)
        for session in followed:  # (a closed one gives nothing)
            await waitlist.give_free_seats(conn, handoff, schedule_id=schedule_id, day=session["date"], now=now)
    return schedule_id


async def _schedule(conn: asyncpg.Connection, facility: str, poli_code: str, poli_name: str | None,
                    doctor_code: str, doctor_name: str) -> str:
    poli_code, doctor_code = poli_code.strip().upper(), doctor_code.strip()
    if not poli_code or len(poli_code) > 8:
        raise rules.invalid("poli_code", "the poli's code (1–8 characters)")
    if not doctor_code or len(doctor_code) > 16 or not doctor_name.strip():
        raise rules.invalid("doctor_code", "the doctor's code and name")
    if not await store.ensure_poli(conn, facility_code=facility, code=poli_code, name=(poli_name or "").strip()):
        raise rules.invalid("poli_name", "needed the first time a poli appears")
    await store.upsert_doctor(conn, facility_code=facility, code=doctor_code, name=doctor_name.strip()[:120])
    return await store.upsert_schedule(conn, facility_code=facility, poli_code=poli_code, doctor_code=doctor_code)


async def queue_status(pool: asyncpg.Pool, facility: str, schedule_id: str,
                       day: date) -> tuple[int, int, str, int]:
    """Total bookings (not cancelled), those not yet served, the number served most recently, and
    the waitlist's length (entries WAITING or OFFERED)."""
    await own_schedule(pool, facility, schedule_id)
    waiting = await store.waitlist_length(pool, schedule_id=schedule_id, day=day)
    queue = await store.queue_state(pool, schedule_id=schedule_id, day=day)
    total = sum(1 for b in queue if b["status"] != "CANCELLED")
    remaining = sum(1 for b in queue if b["status"] in ("BOOKED", "CHECKED_IN"))
    started = [b for b in queue if b["service_at"] is not None]
    latest = max(started, key=lambda b: b["service_at"]) if started else None
    return total, remaining, rules.queue_number(latest["poli_code"], latest["seq"]) if latest else "", waiting


async def issue_referral(pool: asyncpg.Pool, membership: membership_pb2_grpc.MembershipServiceStub, facility: str,
                         *, noka: str, to_facility: str, poli_code: str, visit_type: int,
                         today: date) -> tuple[str, date]:
    """Referral rules: only an FKTP refers, only its own registered AKTIF participants, to a
    hospital's poli; the number is 19 characters and valid 90 days."""
    if not is_noka(noka):
        raise rules.invalid("noka", "13 digits")
    caller = await store.facility(pool, code=facility)
    if caller is None or caller["type"] != "FKTP":
        raise PermissionDenied("only a first-level facility (FKTP) issues referrals")
    hospital = await store.facility(pool, code=to_facility.strip().upper())
    if hospital is None or hospital["type"] != "FKRTL":
        raise NotFound("no such hospital")
    polis = await store.polis_of(pool, codes=[hospital["code"]])
    poli_code = poli_code.strip().upper()
    if poli_code not in {p["code"] for p in polis.get(hospital["code"], [])}:
        raise NotFound("no such poli at that hospital")
    participant = (await call_peer(membership.GetParticipant(membership_pb2.GetParticipantRequest(noka=noka)),
                                   NOT_FOUND=NotFound("no such participant"))).participant
    if participant.fktp.code != facility:
        raise PermissionDenied("the participant is registered at another FKTP")
    if participant.status != membership_pb2.PARTICIPANT_STATUS_AKTIF:
        raise DomainError("the participant's membership is not active", code="PARTICIPANT_INACTIVE")
    valid_until = rules.referral_valid_until(today)
    async with pool.acquire() as conn, conn.transaction():
        for _ in range(1000):
            serial = await store.next_referral_serial(conn, facility_code=facility, period=f"{today:%m%y}")
            number = rules.referral_number(facility_code=facility, issued_on=today, serial=serial)
            if await store.insert_referral(conn, number=number, noka=noka, from_facility=facility,
                                           to_facility=hospital["code"], poli_code=poli_code,
                                           visit_type=visit_type or 1, issued_on=today, valid_until=valid_until):
                log.info("referral_issued", extra={"facility": facility, "to": hospital["code"], "poli": poli_code})
                return number, valid_until
    raise DomainError("referral serials exhausted for this month")
