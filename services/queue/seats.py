"""Group commit of booking attempts, one lane per session (schedule + date), and the "full"
marker that answers a full session without Postgres or membership.

The 06:00 rush is thousands of attempts for one session of a few dozen seats. Instead of every
attempt queueing on the session row's lock with its own transaction (and its own call to
membership), the attempts for one session wait in that session's lane; the lane's worker takes
them in arrival order, as many as there are free seats:

1. reads the session once (closed → BOOKING_WINDOW for all; full → QUOTA_FULL for all, and the
   marker set);
2. checks the rules for each taken attempt as `bookings.create` would (the patient in the
   caller's family and AKTIF — one membership call per distinct caller of the batch —, the
   window, own FKTP or the referral): only attempts that can get a seat ever ask membership;
3. one transaction: the session row locked (`store.lock_session_seats`), one query for the
   patients' active bookings, Idempotency-Keys already used and known medical record numbers
   (`store.batch_conflicts`), then one statement writes the seats, the bookings with
   consecutive sequence numbers, their first responses and their outbox events
   (`store.insert_booking_batch`). The quota is checked under the lock, so it holds across
   replicas (each replica's lanes take the same row lock); attempts beyond it go back to the
   front of the lane.

Duplicates inside a batch are settled before the write: the same Idempotency-Key of the same
account twice is one booking and a replay (or a 422 for another request), the same patient
twice is one booking and a DUPLICATE_BOOKING. A unique violation the batch could not foresee (a
twin on another replica or another session of the poli committing first) rolls the batch back
and its attempts are booked one by one as before (`bookings.book_one`).

A full session costs no call to membership and no Postgres round trip per attempt: the
attempts that arrived while the lane was busy are answered together by its next read of the
session (at most one read per ``full_wait_s`` while it stays full). The answer is never stale: an
attempt is refused only by a read that began after it arrived, so a seat freed (on any replica)
before an attempt arrives is seen by it, with no marker to clear or cross-replica signal to wait
for.
"""

from __future__ import annotations

import asyncio
import collections
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg
from opentelemetry import context as otel_context

from jkn.membership.v1 import membership_pb2_grpc
from jkn.queue.v1 import queue_pb2
from services.kit.errors import DomainError
from services.kit.events import event_type
from services.kit.kafka import QUEUE_EVENTS
from services.kit.logs import get_logger
from services.kit.outbox import NOTIFY_CHANNEL
from services.kit.telemetry import inject_headers
from services.queue import bookings, events, metrics, rules, store, views

log = get_logger("jkn.queue.seats")
Key = tuple[str, date]


def _quota_full() -> DomainError:
    return DomainError("no JKN seats left for this session", code="QUOTA_FULL")


@dataclass
class Attempt:
    request: bookings.BookingRequest
    visit_date: date
    now: datetime
    trace: otel_context.Context  # the attempt's own, for its event's headers (made only for a seat taken)
    arrival: int
    future: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class Checked:
    attempt: Attempt
    patient: bookings.Patient
    referral: str | None


@dataclass
class Lane:
    key: Key
    waiting: collections.deque[Attempt] = field(default_factory=collections.deque)
    worker: asyncio.Task | None = None
    arrivals: int = 0  # attempts that entered the lane so far (each carries its number)
    full: bool = False  # the last read found the session full
    facility_type: str = "FKTP"


class Lanes:
    """This replica's lanes, one per session being booked (a lane ends when no attempt waits)."""

    def __init__(self, pool: asyncpg.Pool, membership: membership_pb2_grpc.MembershipServiceStub, *,
                 wait_s: float = 0.002, full_wait_s: float = 0.01, max_batch: int = 200):
        self.pool, self.membership = pool, membership
        self.wait_s, self.full_wait_s, self.max_batch = wait_s, full_wait_s, max_batch
        self._lanes: dict[Key, Lane] = {}

    # --- booking -----------------------------------------------------------------------------------

    async def book(self, request: bookings.BookingRequest, visit_date: date, *,
                   now: datetime) -> tuple[queue_pb2.Booking, bool]:
        """Queue the attempt in its session's lane; its answer comes from the lane's batch."""
        key = (request.schedule_id, visit_date)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = Lane(key)
        lane.arrivals += 1
        attempt = Attempt(request, visit_date, now, otel_context.get_current(), lane.arrivals)
        lane.waiting.append(attempt)
        if lane.worker is None:
            lane.worker = asyncio.create_task(self._run(lane), name="booking-lane")
        return await attempt.future

    async def _run(self, lane: Lane) -> None:
        try:
            while lane.waiting:
                # let attempts gather: one read, one batch for many (longer while the session is full)
                await asyncio.sleep(self.full_wait_s if lane.full else self.wait_s)
                try:
                    await self._batch(lane)
                except Exception as error:  # noqa: BLE001 - the attempts get the error, the lane goes on
                    while lane.waiting:
                        _fail(lane.waiting.popleft(), error)
        finally:
            lane.worker = None
            if not lane.waiting:
                self._lanes.pop(lane.key, None)

    def _take(self, lane: Lane, count: int) -> list[Attempt]:
        taken: list[Attempt] = []
        while lane.waiting and len(taken) < count:
            attempt = lane.waiting.popleft()
            if not attempt.future.done():  # its caller gave up (deadline): it takes no seat
                taken.append(attempt)
        return taken

    def _refuse_all(self, lane: Lane, error: DomainError, *, arrived_by: int) -> None:
        """Refuse the attempts that arrived before the read that found ``error`` began (later ones
        wait for the next read)."""
        result = "quota_full" if error.code == "QUOTA_FULL" else "refused"
        while lane.waiting and lane.waiting[0].arrival <= arrived_by:
            attempt = lane.waiting.popleft()
            if not attempt.future.done():
                metrics.BOOKINGS.labels(lane.facility_type, result).inc()
                attempt.future.set_exception(DomainError(error.detail, code=error.code))

    async def _batch(self, lane: Lane) -> None:
        arrived_by = lane.arrivals  # before the read: only these may be refused by what it finds
        schedule_id, day = lane.key
        try:
            session = await bookings.session_of(self.pool, schedule_id, day)
        except DomainError as error:
            self._refuse_all(lane, error, arrived_by=arrived_by)
            return
        lane.facility_type = session["facility_type"]
        if session["closed"]:
            self._refuse_all(lane, DomainError("the doctor does not practise on that date", code="BOOKING_WINDOW"),
                             arrived_by=arrived_by)
            return
        free = session["quota_jkn"] - session["taken_jkn"]
        lane.full = free <= 0
        if free <= 0:
            self._refuse_all(lane, _quota_full(), arrived_by=arrived_by)
            return
        batch = self._take(lane, min(free, self.max_batch))
        if not batch:
            return
        checked = await self._check(session, batch)
        if checked:
            await self._commit(lane, session, checked)

    async def _check(self, session: asyncpg.Record, batch: list[Attempt]) -> list[Checked]:
        """The rules before the seat, per attempt (one membership call per distinct caller)."""
        families: dict[tuple[str, str], asyncio.Task] = {}

        async def one(attempt: Attempt) -> Checked:
            request = attempt.request
            noka = request.noka or request.caller_noka
            family = families.get((request.caller_noka, noka))
            if family is None:
                family = families[(request.caller_noka, noka)] = asyncio.ensure_future(bookings.patient_in_family(
                    self.membership, caller_noka=request.caller_noka, noka=noka))
            patient = await asyncio.shield(family)
            referral = await bookings.check_before_seat(self.pool, request, session, attempt.visit_date, patient,
                                                        now=attempt.now)
            return Checked(attempt, patient, referral)

        results = await asyncio.gather(*(one(a) for a in batch), return_exceptions=True)
        passed: list[Checked] = []
        for attempt, result in zip(batch, results, strict=True):
            if isinstance(result, Checked):
                passed.append(result)
            else:
                if isinstance(result, DomainError):
                    metrics.BOOKINGS.labels(session["facility_type"], "refused").inc()
                _fail(attempt, result)
        return passed

    async def _commit(self, lane: Lane, session: asyncpg.Record, checked: list[Checked]) -> None:
        schedule_id, day = lane.key
        facility, poli = session["facility_code"], session["poli_code"]
        outcomes: list[tuple[Checked, Any]] = []
        winners: list[Checked] = []
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                locked = await store.lock_session_seats(conn, schedule_id=schedule_id, day=day)
                if locked is None or locked["closed"]:
                    error = DomainError("the doctor does not practise on that date", code="BOOKING_WINDOW")
                    outcomes = [(c, error) for c in checked]
                    raise _Settled()
                keyed = [c.attempt.request for c in checked if c.attempt.request.idempotency_key]
                known = await store.batch_conflicts(
                    conn, facility_code=facility, poli_code=poli, day=day,
                    nokas=sorted({c.patient.noka for c in checked}), booked_by=[r.account_id for r in keyed],
                    keys=[r.idempotency_key or "" for r in keyed])
                active = {r["noka"] for r in known if r["kind"] == "active"}
                used = {(str(r["booked_by"]), r["idempotency_key"]): r for r in known if r["kind"] == "key"}
                records = {r["noka"]: r["medical_record_number"] for r in known if r["kind"] == "record"}
                twins: dict[tuple[str, str], Checked] = {}
                for c in checked:
                    request = c.attempt.request
                    key = (request.account_id, request.idempotency_key) if request.idempotency_key else None
                    if key in used:
                        outcomes.append((c, ("replay", used[key]["request_fingerprint"], used[key]["first_response"])))
                    elif key in twins:
                        outcomes.append((c, ("twin", twins[key])))
                    elif c.patient.noka in active:
                        outcomes.append((c, DomainError("this participant already has a booking at this poli on"
                                                        " that date", code="DUPLICATE_BOOKING")))
                    else:
                        winners.append(c)
                        active.add(c.patient.noka)
                        if key is not None:
                            twins[key] = c
                free = locked["quota_jkn"] - locked["taken_jkn"]
                for extra in reversed(winners[free:]):  # the quota changed meanwhile: back to the front
                    lane.waiting.appendleft(extra.attempt)
                winners = winners[:max(free, 0)]
                answers = self._write_plan(session, locked, winners, records)
                if winners:
                    await store.insert_booking_batch(
                        conn, schedule_id=schedule_id, day=day, facility_code=facility, poli_code=poli,
                        bookings=[a[0] for a in answers], records=[a[1] for a in answers if a[1]],
                        events=[a[2] for a in answers], event_type=event_type(events.BookingCreated),
                        topic=QUEUE_EVENTS, outbox_channel=NOTIFY_CHANNEL)
                outcomes += [(c, answer[3]) for c, answer in zip(winners, answers, strict=True)]
        except _Settled:
            pass
        except asyncpg.UniqueViolationError:  # a twin elsewhere got there first: one by one, as before
            for c in checked:
                await self._one_by_one(c)
            return
        self._settle(session, outcomes)

    def _write_plan(self, session: asyncpg.Record, locked: asyncpg.Record, winners: list[Checked],
                    records: dict[str, str]) -> list[tuple[tuple, tuple[str, str] | None, tuple, queue_pb2.Booking]]:
        """Per winner, in seat order: its bookings row, the medical record number to remember, its
        outbox event and its 201 answer (what a booking made alone would have said: the seats left
        after its own)."""
        plan = []
        for i, c in enumerate(winners):
            request, patient = c.attempt.request, c.patient
            given = (request.medical_record_number or "").strip() or None
            record = given or records.get(patient.noka)
            code = rules.booking_code(c.attempt.visit_date, session["poli_code"])
            row = {**dict(session), "code": code, "seq": locked["last_seq"] + i + 1, "noka": patient.noka,
                   "booked_by": request.account_id, "status": "BOOKED", "visit_type": request.visit_type,
                   "referral_number": c.referral, "medical_record_number": record, "new_patient": record is None,
                   "created_at": locked["now"], "taken_jkn": locked["taken_jkn"] + i + 1,
                   "quota_jkn": locked["quota_jkn"], "date": c.attempt.visit_date, "checked_in_at": None,
                   "cancel_reason": None, "tasks": "[]"}
            answer = views.booking(row)
            event = events.BookingCreated(booking=events.booking_facts(row))
            plan.append(((code, row["seq"], patient.noka, request.account_id, request.visit_type, c.referral, record,
                          record is None, request.idempotency_key, request.fingerprint(), answer.SerializeToString()),
                         (patient.noka, given) if given else None,
                         (uuid.uuid4(), code.encode(), event.SerializeToString(),
                          json.dumps({k: v.decode() for k, v in inject_headers(c.attempt.trace)})), answer))
        return plan

    def _settle(self, session: asyncpg.Record, outcomes: list[tuple[Checked, Any]]) -> None:
        facility_type = session["facility_type"]
        answers: dict[int, queue_pb2.Booking] = {}
        for c, outcome in outcomes:
            if isinstance(outcome, queue_pb2.Booking):
                answers[id(c)] = outcome
                metrics.BOOKINGS.labels(facility_type, "created").inc()
                if session["quota_jkn"]:
                    metrics.QUOTA_FILL.labels(facility_type).observe(1 - outcome.remaining_jkn / session["quota_jkn"])
                log.info("booking_created", extra={"facility": session["facility_code"], "poli": session["poli_code"],
                                                   "date": outcome.date, "seq": outcome.queue_seq})
                _resolve(c.attempt, (outcome, False))
        for c, outcome in outcomes:
            if isinstance(outcome, queue_pb2.Booking):
                continue
            if isinstance(outcome, DomainError):
                metrics.BOOKINGS.labels(facility_type, "duplicate" if outcome.code == "DUPLICATE_BOOKING"
                                        else "refused").inc()
                _fail(c.attempt, outcome)
            elif outcome[0] == "replay":
                _, fingerprint, body = outcome
                self._replayed(c, facility_type, fingerprint, queue_pb2.Booking.FromString(body))
            else:  # a twin in this batch
                first: Checked = outcome[1]
                self._replayed(c, facility_type, first.attempt.request.fingerprint(), answers[id(first)])

    def _replayed(self, c: Checked, facility_type: str, fingerprint: str, booking: queue_pb2.Booking) -> None:
        if fingerprint != c.attempt.request.fingerprint():
            _fail(c.attempt, rules.invalid("Idempotency-Key", "already used for a different booking request"))
            return
        metrics.BOOKINGS.labels(facility_type, "replayed").inc()
        _resolve(c.attempt, (booking, True))

    async def _one_by_one(self, c: Checked) -> None:
        try:
            _resolve(c.attempt, await bookings.book_one(self.pool, c.attempt.request, c.attempt.visit_date,
                                                        c.patient, c.referral))
        except Exception as error:  # noqa: BLE001 - handed to the attempt's caller
            _fail(c.attempt, error)


class _Settled(Exception):
    """The batch ends without writing (its outcomes are known)."""


def _resolve(attempt: Attempt, value: tuple[queue_pb2.Booking, bool]) -> None:
    if not attempt.future.done():
        attempt.future.set_result(value)


def _fail(attempt: Attempt, error: BaseException) -> None:
    if not attempt.future.done():
        attempt.future.set_exception(error)
