"""The queue's rules (CONTRACT.md §3), as plain functions over plain values.

Dates are Asia/Jakarta calendar dates; session times are Jakarta wall-clock times.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from statistics import median

from services.kit.clock import JAKARTA
from services.kit.errors import DomainError, ValidationFailed

SLOT = timedelta(minutes=10)
CLOCK_SKEW = timedelta(minutes=5)
FKRTL_DAYS_AHEAD = 30
REFERRAL_VALID_DAYS = 90
REFERRAL_LENGTH = 19
#: Task ids hospitals report (BPJS Antrean): 1–7 in order, 99 = no-show / cancel.
TASK_NO_SHOW = 99
TASKS = (1, 2, 3, 4, 5, 6, 7, TASK_NO_SHOW)
#: The first task of a visit: admission (1), or the poli wait (3) when there is no admission step.
FIRST_TASKS = (1, 3)
#: Booking states in which the participant still holds a place in the queue.
ACTIVE = ("BOOKED", "CHECKED_IN", "SERVING")
TURN_NEAR_AHEAD = 3
_CODE_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "O0I1")


def invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([{"field": field, "code": "invalid", "message": message}])


def parse_date(value: str, field: str = "date") -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(field, "a date YYYY-MM-DD") from None


def parse_hhmm(value: str, field: str) -> time:
    """Session times are "HH:MM" (24 h)."""
    try:
        parsed = datetime.strptime(value, "%H:%M").time()
    except ValueError:
        raise invalid(field, "a time HH:MM") from None
    return parsed


def at_jakarta(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=JAKARTA)


def check_booking_window(*, facility_type: str, visit_date: date, now: datetime, session_end: time) -> None:
    """Booking rule 1: at an FKTP, for today or tomorrow; at an FKRTL (hospital), from tomorrow
    up to 30 days ahead. A session that has already ended cannot be booked."""
    today = now.astimezone(JAKARTA).date()
    if facility_type == "FKTP":
        allowed = today <= visit_date <= today + timedelta(days=1)
        window = "today or tomorrow"
    else:
        allowed = today + timedelta(days=1) <= visit_date <= today + timedelta(days=FKRTL_DAYS_AHEAD)
        window = f"from tomorrow up to {FKRTL_DAYS_AHEAD} days ahead"
    if not allowed:
        raise DomainError(f"bookings at this facility are for {window}", code="BOOKING_WINDOW")
    if at_jakarta(visit_date, session_end) <= now:
        raise DomainError("this session has already ended", code="BOOKING_WINDOW")


def bookable_at_all(visit_date: date, *, now: datetime) -> bool:
    """The widest window of rule 1 (today up to 30 days ahead), checked before anything else."""
    today = now.astimezone(JAKARTA).date()
    return today <= visit_date <= today + timedelta(days=FKRTL_DAYS_AHEAD)


def published_dates(day: date, *, now: datetime) -> bool:
    """Sessions are made from the weekly hours for today up to 31 days ahead (older or later
    dates show only what exists)."""
    today = now.astimezone(JAKARTA).date()
    return today <= day <= today + timedelta(days=FKRTL_DAYS_AHEAD + 1)


def check_request_sizes(*, medical_record_number: str | None, idempotency_key: str | None) -> None:
    if medical_record_number is not None and len(medical_record_number) > 32:
        raise invalid("medical_record_number", "at most 32 characters")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 128:
        raise invalid("Idempotency-Key", "1–128 characters")


def check_own_fktp(*, facility_code: str, participant_fktp: str) -> None:
    """Booking rule 2: an FKTP books only its own registered participants."""
    if facility_code != participant_fktp:
        raise DomainError("participants book only at their own FKTP", code="FACILITY_NOT_REGISTERED")


def check_active(status: str) -> None:
    """Booking rule 4: only an AKTIF participant may book."""
    if status != "AKTIF":
        raise DomainError("the participant's membership is not active", code="PARTICIPANT_INACTIVE")


@dataclass(frozen=True)
class Referral:
    number: str
    noka: str
    to_facility: str
    poli_code: str
    issued_on: date
    valid_until: date


def referral_valid_until(issued_on: date) -> date:
    """Referral rule 2: a referral is valid 90 days from its issue (the 90th day is the last)."""
    return issued_on + timedelta(days=REFERRAL_VALID_DAYS - 1)


def check_referral(referral: Referral | None, *, number: str | None, noka: str, facility_code: str,
                   poli_code: str, visit_date: date, today: date) -> None:
    """Referral rules 1–3: a hospital booking needs a referral of 19 characters, issued for this
    participant, this hospital and this poli, still valid today and on the visit date."""
    if not number:
        raise DomainError("a hospital booking needs a referral from the FKTP", code="REFERRAL_REQUIRED")
    if referral is None or len(number) != REFERRAL_LENGTH:
        raise DomainError("no such referral", code="REFERRAL_INVALID")
    if (referral.noka, referral.to_facility, referral.poli_code) != (noka, facility_code, poli_code):
        raise DomainError("the referral is for another participant, hospital or poli", code="REFERRAL_INVALID")
    if not referral.issued_on <= today <= referral.valid_until or visit_date > referral.valid_until:
        raise DomainError(f"the referral was valid until {referral.valid_until.isoformat()}",
                          code="REFERRAL_INVALID", valid_until=referral.valid_until.isoformat())


def referral_number(*, facility_code: str, issued_on: date, serial: int) -> str:
    """Referral rule 1: ``{FKTP code (8)}{MM}{YY}Y{serial (6)}``, 19 characters,
    e.g. ``0114U0011126Y000001``."""
    number = f"{facility_code}{issued_on:%m%y}Y{serial:06d}"
    if len(number) != REFERRAL_LENGTH:
        raise ValueError("referral number must be 19 characters")
    return number


def booking_code(visit_date: date, poli_code: str) -> str:
    """A booking code: the visit date, the poli and 6 random characters (unguessable, and easy
    to read out at a counter: no O/0/I/1), e.g. ``20261122INTK7QM2P``."""
    return f"{visit_date:%Y%m%d}{poli_code}{''.join(secrets.choice(_CODE_ALPHABET) for _ in range(6))}"


def queue_number(poli_code: str, seq: int) -> str:
    """Booking rule 5: the number shown is ``{poli}-{seq}``, e.g. ``INT-1``."""
    return f"{poli_code}-{seq}"


def estimated_service_at(*, visit_date: date, start: time, seq: int) -> datetime:
    """Estimate rule: schedule start + (queue seq − 1) × 10 min."""
    return at_jakarta(visit_date, start) + (seq - 1) * SLOT


def live_estimate(*, planned: datetime, service_starts: list[datetime], ahead: int, now: datetime) -> datetime:
    """Live estimate: once patients are being served, the pace is the median gap between the
    day's poli service starts (10 min until two are known); the next patient is due one pace
    after the latest start, and each patient still ahead adds one pace. Never earlier than
    now while the session runs, and never earlier than planned before anyone is served."""
    if not service_starts:
        return max(planned, now + ahead * SLOT) if now > planned else planned
    starts = sorted(service_starts)
    gaps = [b - a for a, b in pairwise(starts) if b > a]
    pace = timedelta(seconds=median(g.total_seconds() for g in gaps)) if gaps else SLOT
    return max(starts[-1] + pace, now) + ahead * pace


def check_cancellable(*, status: str, visit_date: date, today: date) -> None:
    """Cancellation rule: until check-in and not after the visit date."""
    if status != "BOOKED" or visit_date < today:
        raise DomainError("only a booking not yet checked in, on or before its date, can be cancelled",
                          code="BOOKING_NOT_CANCELLABLE")


def check_reported_time(at: datetime, *, now: datetime, field: str = "at") -> None:
    """A time a facility reports has happened: not later than now (5 minutes of clock skew allowed)."""
    if at > now + CLOCK_SKEW:
        raise invalid(field, "a time that has already happened")


def check_check_in(*, status: str, visit_date: date, at: datetime, now: datetime) -> None:
    """Check-in rule: only a BOOKED booking, only on its visit date (Asia/Jakarta, by our clock
    and by the reported time), and never in the future."""
    check_reported_time(at, now=now)
    if status != "BOOKED":
        raise DomainError(f"a {status} booking cannot be checked in", code="CHECK_IN_NOT_ALLOWED")
    if now.astimezone(JAKARTA).date() != visit_date or at.astimezone(JAKARTA).date() != visit_date:
        raise DomainError("check-in is only possible on the visit date", code="CHECK_IN_NOT_ALLOWED")


def check_task(*, task_id: int, recorded: dict[int, datetime], status: str, checked_in_at: datetime | None,
               at: datetime, now: datetime) -> None:
    """Task rule: ids 1–7 come one after another (1, 2, 3, …; a patient who needs no admission
    starts at 3) with strictly increasing times after check-in; a repeated id is refused; 99
    marks a no-show or cancellation of a booking not yet served."""
    if task_id not in TASKS:
        raise invalid("task_id", "1–7 or 99")
    check_reported_time(at, now=now)
    if task_id in recorded:
        raise DomainError(f"task {task_id} is already recorded", code="TASK_ALREADY_RECORDED")
    if task_id == TASK_NO_SHOW:
        if status not in ("BOOKED", "CHECKED_IN"):
            raise DomainError(f"a {status} booking cannot become a no-show", code="TASK_OUT_OF_ORDER")
        return
    if status in ("BOOKED", "CANCELLED", "NO_SHOW") or checked_in_at is None:
        raise DomainError("the patient must be checked in first", code="TASK_OUT_OF_ORDER")
    expected = (max(recorded) + 1,) if recorded else FIRST_TASKS
    if task_id not in expected:
        raise DomainError(f"task {task_id} is out of order (expected {' or '.join(map(str, expected))})",
                          code="TASK_OUT_OF_ORDER", expected=list(expected))
    previous = max(recorded.values(), default=checked_in_at)
    if at <= previous:
        raise DomainError("each task must be later than the previous step", code="TASK_OUT_OF_ORDER")


def status_after_task(status: str, task_id: int) -> str:
    """Task 4 (poli service starts) means SERVING; task 5 (poli service done) means DONE
    (the pharmacy steps may follow); 99 means NO_SHOW."""
    if task_id == TASK_NO_SHOW:
        return "NO_SHOW"
    if task_id == 4:
        return "SERVING"
    if task_id >= 5:
        return "DONE"
    return status


def check_quota_change(*, quota_jkn: int, taken_jkn: int) -> None:
    """Schedule rule: a facility cannot cut a session's JKN quota below the seats already taken."""
    if quota_jkn < taken_jkn:
        raise ValidationFailed([{"field": "quota_jkn", "code": "below_taken",
                                 "message": f"{taken_jkn} seats are already taken"}])


def check_hours(start: time, end: time, quota_jkn: int, quota_non_jkn: int) -> None:
    if end <= start:
        raise invalid("end", "after start")
    if quota_jkn < 0 or quota_non_jkn < 0 or quota_jkn > 1000 or quota_non_jkn > 1000:
        raise invalid("quota_jkn", "0–1000")


def reminder_due(*, visit_date: date, now: datetime, evening: time = time(18, 0)) -> bool:
    """Reminder rule: participants are reminded from 18:00 the evening before their visit."""
    local = now.astimezone(JAKARTA)
    return visit_date == local.date() + timedelta(days=1) and local.time() >= evening


# --- reschedule, a doctor's absence, the waitlist (CONTRACT.md §7) ------------------------------

#: A booking cancelled for a doctor's absence may be moved for this many days after the cancellation;
#: its alternatives are the sessions up to this many days after it.
ABSENCE_REBOOK_DAYS = 14
#: `cancel_reason` of a booking moved to another session, and of one cancelled for a doctor's absence.
RESCHEDULED = "RESCHEDULED"
DOCTOR_ABSENT = "DOCTOR_ABSENT"


def check_reschedulable(*, status: str, cancel_reason: str | None, cancelled_at: datetime | None,
                        rescheduled_to: str | None, visit_date: date, now: datetime) -> None:
    """Reschedule rule: a BOOKED booking up to its date, or one cancelled DOCTOR_ABSENT within 14
    days of that cancellation (once: not one already moved); nothing else."""
    today = now.astimezone(JAKARTA).date()
    if status == "BOOKED" and visit_date >= today:
        return
    if (status == "CANCELLED" and cancel_reason == DOCTOR_ABSENT and rescheduled_to is None
            and cancelled_at is not None and now - cancelled_at <= timedelta(days=ABSENCE_REBOOK_DAYS)):
        return
    raise DomainError("only a booking not yet checked in, or one cancelled for the doctor's absence in the last "
                      f"{ABSENCE_REBOOK_DAYS} days, can be moved", code="BOOKING_NOT_CANCELLABLE")


def carried_referral(*, given: str | None, old_referral: str | None, same_poli: bool) -> str | None:
    """Reschedule rule: a referral given with the move is used; otherwise the old booking's
    referral carries over when hospital and poli are the same."""
    if given and given.strip():
        return given
    return old_referral if same_poli else None


def alternative_dates(*, cancelled_on: date, today: date) -> tuple[date, date]:
    """Alternatives of a booking cancelled DOCTOR_ABSENT: sessions from today up to 14 days after
    the cancellation (the booking rules then narrow them to what the patient may book)."""
    return today, cancelled_on + timedelta(days=ABSENCE_REBOOK_DAYS)


def offer_expires_at(now: datetime, *, hold_s: float) -> datetime:
    """Waitlist rule: a seat offered to an entry (auto_accept false) is held for ``hold_s``
    (JKN_QUEUE_WAITLIST_HOLD_S, 900 s by default); then it passes to the next entry."""
    return now + timedelta(seconds=hold_s)


def check_joinable(*, quota_jkn: int, taken_jkn: int) -> None:
    """Waitlist rule: only a full session has a waitlist (else: book the free seat)."""
    if taken_jkn < quota_jkn:
        raise DomainError("this session still has free seats: book one", code="SEATS_AVAILABLE")


_DAYS_ID = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")


def describe_alternative(day: date, start: time, doctor: str, free_seats: int) -> str:
    """The earliest alternative in words, as the patient's message names it, e.g.
    "Kamis 2026-12-03 08:00, dr. Andi Wijaya, Sp.PD (sisa 5 kuota)"."""
    return f"{_DAYS_ID[day.weekday()]} {day.isoformat()} {start:%H:%M}, {doctor} (sisa {free_seats} kuota)"


def absence_message(earliest: str) -> str:
    """What a patient displaced by a doctor's absence is told: the absence, the earliest
    alternative (if any) and that one reschedule in the app moves the booking."""
    if not earliest:
        return "dokter berhalangan praktik; belum ada jadwal pengganti dalam 14 hari"
    return f"dokter berhalangan praktik. Jadwal terdekat: {earliest}. Pindah jadwal lewat aplikasi"
