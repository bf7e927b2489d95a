"""Antrean RS routes under ``/antreanrs`` (CONTRACT.md §8): each maps to partner calls of queue (and,
for a patient known by NIK only, membership) with the facility's own signature, and answers
BPJS-style (`answers`, `views`)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import cast

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from jkn.membership.v1 import partner_pb2 as membership_partner_pb2
from jkn.queue.v1 import partner_pb2, queue_pb2
from services.bridge import answers, dashboard, schedules, views
from services.bridge.deps import Bridge, Ctx, visit_date
from services.kit.clock import jakarta_today

router = APIRouter(prefix="/antreanrs")
#: Tasks that open a visit (1, or 3 where there is no admission step): the desk checks in with them.
FIRST_TASKS = (1, 3)
#: Visit kinds BPJS numbers 1–4, the same numbers as `queue_pb2.VisitType`.
VISIT_TYPES = (1, 2, 3, 4)


class _Body(BaseModel):
    """A SIMRS body: numbers may come as strings and strings as numbers; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, str_strip_whitespace=True)


class JadwalItem(_Body):
    hari: int = Field(ge=0, le=99)
    buka: str = Field(max_length=8)
    tutup: str = Field(max_length=8)


class ScheduleUpdate(_Body):
    kodepoli: str = Field(min_length=1, max_length=8)
    kodesubspesialis: str = Field("", max_length=8)
    kodedokter: str = Field(min_length=1, max_length=16)
    jadwal: list[JadwalItem] = Field(max_length=7)


class DeskBooking(_Body):
    kodebooking: str = Field(min_length=1, max_length=40)
    jenispasien: str = Field(max_length=10)
    nomorkartu: str = Field("", max_length=13)
    nik: str = Field("", max_length=16)
    nohp: str = Field("", max_length=20)
    kodepoli: str = Field(min_length=1, max_length=8)
    pasienbaru: int = Field(0, ge=0, le=1)
    norm: str = Field("", max_length=32)
    tanggalperiksa: str = Field(max_length=10)
    kodedokter: str = Field(min_length=1, max_length=16)
    jampraktek: str = Field("", max_length=11)
    jeniskunjungan: int = Field(1, ge=0, le=99)
    nomorreferensi: str = Field("", max_length=19)


class TaskUpdate(_Body):
    kodebooking: str = Field(min_length=1, max_length=40)
    taskid: int = Field(ge=0, le=999)
    waktu: int = Field(ge=0, le=2**53, description="Unix epoch milliseconds")


class Cancellation(_Body):
    kodebooking: str = Field(min_length=1, max_length=40)
    keterangan: str = Field("", max_length=200)


class BookingCode(_Body):
    kodebooking: str = Field(min_length=1, max_length=40)


@router.get("/ref/poli")
async def ref_poli(ctx: Ctx) -> JSONResponse:
    reply = await ctx.call(ctx.state.queue.ListReferences, partner_pb2.ListReferencesRequest())
    return ctx.ok(views.polis(reply))


@router.get("/ref/dokter")
async def ref_dokter(ctx: Ctx) -> JSONResponse:
    reply = await ctx.call(ctx.state.queue.ListReferences, partner_pb2.ListReferencesRequest())
    return ctx.ok(views.doctors(reply))


@router.get("/jadwaldokter/kodepoli/{kodepoli}/tanggal/{tanggal}")
async def jadwal_dokter(ctx: Ctx, kodepoli: str, tanggal: str) -> JSONResponse:
    reply = await ctx.call(ctx.state.queue.ListSessions, partner_pb2.ListSessionsRequest(
        date=visit_date(tanggal), poli_code=kodepoli[:8]))
    return ctx.ok(views.schedules(list(reply.sessions)))


@router.post("/jadwaldokter/updatejadwaldokter")
async def update_jadwal_dokter(ctx: Ctx) -> JSONResponse:
    """`schedules` rules 1 and 2."""
    body = await ctx.body(ScheduleUpdate)
    hours = schedules.weekly_hours([(j.hari, j.buka, j.tutup) for j in body.jadwal])
    tomorrow = jakarta_today() + timedelta(days=1)
    current = await _doctor_week(ctx, body.kodepoli.upper(), body.kodedokter, tomorrow)
    if not current:
        raise schedules.no_current_schedule()
    sample = next(iter(current.values()))
    quota_jkn, quota_non_jkn = max(s.quota_jkn for s in current.values()), sample.quota_non_jkn
    for group in hours:
        await ctx.call(ctx.state.queue.UpsertWeeklySchedule, partner_pb2.UpsertWeeklyScheduleRequest(
            poli_code=sample.poli.code, doctor_code=sample.doctor.code, doctor_name=sample.doctor.name,
            weekdays=[cast(partner_pb2.Weekday.ValueType, d) for d in group.weekdays], start=group.start,
            end=group.end, quota_jkn=quota_jkn, quota_non_jkn=quota_non_jkn, valid_from=tomorrow.isoformat()))
    kept = {day for group in hours for day in group.weekdays}
    for day in schedules.dates_to_close(practised=set(current), kept=kept, tomorrow=tomorrow):
        was = current[day.isoweekday()]
        await ctx.call(ctx.state.queue.UpsertSchedule, partner_pb2.UpsertScheduleRequest(
            poli_code=was.poli.code, doctor_code=was.doctor.code, doctor_name=was.doctor.name, date=day.isoformat(),
            start=was.start, end=was.end, quota_jkn=was.quota_jkn, quota_non_jkn=was.quota_non_jkn, closed=True))
    return ctx.ok()


async def _doctor_week(ctx: Bridge, poli: str, doctor: str, first: date) -> dict[int, queue_pb2.Schedule]:
    """The doctor's open sessions at the poli in the week from ``first``, by ISO weekday."""
    week: dict[int, queue_pb2.Schedule] = {}
    for n in range(7):
        day = first + timedelta(days=n)
        reply = await ctx.call(ctx.state.queue.ListSessions, partner_pb2.ListSessionsRequest(
            date=day.isoformat(), poli_code=poli))
        for session in reply.sessions:
            if session.schedule.doctor.code == doctor and not session.closed:
                week[day.isoweekday()] = session.schedule
    return week


@router.post("/antrean/add")
async def add(ctx: Ctx) -> JSONResponse:
    """The hospital desk books a JKN seat for a participant, or a non-JKN seat for a
    non-participant (``jenispasien`` "NON JKN": known by NIK or ``norm``), via partner
    `CreateDeskBooking`."""
    body = await ctx.body(DeskBooking)
    kind = body.jenispasien.upper().replace("_", " ").replace("-", " ").strip()
    if kind not in ("JKN", "NON JKN"):
        raise answers.refused("jenispasien harus JKN atau NON JKN", "VALIDATION_ERROR")
    start = body.jampraktek.split("-")[0].strip()
    if kind == "NON JKN":
        reply = await ctx.call(ctx.state.queue.CreateDeskBooking, partner_pb2.CreateDeskBookingRequest(
            booking_code=body.kodebooking, non_jkn=True, nik=body.nik or None, poli_code=body.kodepoli,
            doctor_code=body.kodedokter, date=visit_date(body.tanggalperiksa),
            visit_type=cast(queue_pb2.VisitType.ValueType, body.jeniskunjungan if body.jeniskunjungan in VISIT_TYPES
                            else 1), medical_record_number=body.norm or None, start=start or None))
        return ctx.ok(views.desk_booking(reply.registration))
    if body.jeniskunjungan not in VISIT_TYPES:
        raise answers.refused("jeniskunjungan harus 1 sampai 4", "VALIDATION_ERROR")
    noka = body.nomorkartu
    if not noka and body.nik:  # a participant known by NIK only: their card number from membership
        noka = (await ctx.call(ctx.state.membership.CheckEligibility, membership_partner_pb2.CheckEligibilityRequest(
            nik=body.nik, service_date=visit_date(body.tanggalperiksa)))).noka
    reply = await ctx.call(ctx.state.queue.CreateDeskBooking, partner_pb2.CreateDeskBookingRequest(
        booking_code=body.kodebooking, noka=noka, poli_code=body.kodepoli, doctor_code=body.kodedokter,
        date=visit_date(body.tanggalperiksa), visit_type=cast(queue_pb2.VisitType.ValueType, body.jeniskunjungan),
        referral_number=body.nomorreferensi or None, medical_record_number=body.norm or None, start=start or None))
    return ctx.ok(views.desk_booking(reply.registration))


@router.post("/antrean/updatewaktu")
async def update_waktu(ctx: Ctx) -> JSONResponse:
    """Partner `UpdateTask`; the first task also checks a booking in (1 ms before it) when the desk
    has not yet (CONTRACT.md §8). A repeated task is 208."""
    body = await ctx.body(TaskUpdate)
    if body.taskid in FIRST_TASKS:
        reg = await _registration(ctx, body.kodebooking)
        if reg.booking.status == queue_pb2.BOOKING_STATUS_BOOKED:
            await ctx.call(ctx.state.queue.CheckIn, partner_pb2.CheckInRequest(
                booking_code=body.kodebooking, at=body.waktu - 1))
    await ctx.call(ctx.state.queue.UpdateTask, partner_pb2.UpdateTaskRequest(
        booking_code=body.kodebooking, task_id=cast(queue_pb2.TaskId.ValueType, body.taskid), at=body.waktu))
    return ctx.ok()


@router.post("/antrean/batal")
async def batal(ctx: Ctx) -> JSONResponse:
    """Partner `CancelBooking`; a booking already cancelled answers 208."""
    body = await ctx.body(Cancellation)
    try:
        await ctx.call(ctx.state.queue.CancelBooking, partner_pb2.PartnerQueueServiceCancelBookingRequest(
            booking_code=body.kodebooking, reason=body.keterangan or "Dibatalkan oleh rumah sakit"))
    except answers.Refusal as refusal:
        if refusal.reason != "BOOKING_NOT_CANCELLABLE":
            raise
        if (await _registration(ctx, body.kodebooking)).booking.status == queue_pb2.BOOKING_STATUS_CANCELLED:
            raise answers.Refusal(answers.ALREADY_RECORDED, "Antrean sudah dibatalkan", "ALREADY_CANCELLED") from None
        raise
    return ctx.ok()


@router.post("/antrean/getlisttask")
async def get_list_task(ctx: Ctx) -> JSONResponse:
    body = await ctx.body(BookingCode)
    return ctx.ok(views.tasks(await _registration(ctx, body.kodebooking)))


@router.get("/antrean/pendaftaran/tanggal/{tanggal}")
async def registrations_on(ctx: Ctx, tanggal: str) -> JSONResponse:
    reply = await ctx.call(ctx.state.queue.ListRegistrations, partner_pb2.ListRegistrationsRequest(
        date=visit_date(tanggal)))
    return ctx.ok([views.registration(r) for r in reply.registrations])


@router.get("/antrean/pendaftaran/kodebooking/{kodebooking}")
async def registration_of(ctx: Ctx, kodebooking: str) -> JSONResponse:
    return ctx.ok([views.registration(await _registration(ctx, kodebooking))])


@router.get("/dashboard/waktutunggu/tanggal/{tanggal}/waktu/{waktu}")
async def waiting_times(ctx: Ctx, tanggal: str, waktu: str) -> JSONResponse:
    if waktu not in ("rs", "server"):
        raise answers.refused("waktu harus rs atau server", "VALIDATION_ERROR")
    day = visit_date(tanggal)
    reply = await ctx.call(ctx.state.queue.ListRegistrations, partner_pb2.ListRegistrationsRequest(date=day))
    return ctx.ok(dashboard.waiting_times(list(reply.registrations), facility=ctx.facility, day=day,
                                          server_times=waktu == "server"))


async def _registration(ctx: Bridge, code: str) -> partner_pb2.Registration:
    if not 0 < len(code) <= 40:
        raise answers.refused("kodebooking tidak valid", "VALIDATION_ERROR")
    reply = await ctx.call(ctx.state.queue.GetRegistration, partner_pb2.GetRegistrationRequest(booking_code=code))
    return reply.registration
