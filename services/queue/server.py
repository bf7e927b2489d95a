"""Queue's gRPC servicers (internal and partner): translation only — each request becomes one call
of a use-case module (`directory`, `bookings`, `waitlist`, `partner`) or one plain store read, and its result
the reply."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import asyncpg
import grpc

from jkn.common.v1 import common_pb2
from jkn.membership.v1 import membership_pb2_grpc
from jkn.queue.v1 import partner_pb2, partner_pb2_grpc, queue_pb2, queue_pb2_grpc
from services.kit.errors import ValidationFailed
from services.kit.ids import is_noka, is_uuid
from services.kit.partner_auth import PartnerSecrets, authenticate
from services.queue import bookings, desk, directory, partner, registrations, rules, seats, store, views, waitlist

_TYPES = {queue_pb2.FACILITY_TYPE_FKTP: "FKTP", queue_pb2.FACILITY_TYPE_FKRTL: "FKRTL"}
Clock = Callable[[], datetime]


def _facility(row: asyncpg.Record, polis: list[asyncpg.Record]) -> queue_pb2.Facility:
    message = queue_pb2.Facility(code=row["code"], name=row["name"], type=queue_pb2.FacilityType.Value(
        f"FACILITY_TYPE_{row['type']}"), address=row["address"], lat=row["lat"], lon=row["lon"],
        polis=[common_pb2.CodeName(code=p["code"], name=p["name"]) for p in polis])
    distance = row.get("distance_km")
    if distance is not None:
        message.distance_km = round(distance, 2)
    return message


def _caller(caller: queue_pb2.Caller) -> tuple[str, str]:
    """The gateway-verified account and NOKA (both required)."""
    if not is_uuid(caller.account_id) or not is_noka(caller.noka):
        raise ValidationFailed([{"field": "caller", "code": "required", "message": "the signed-in participant"}])
    return caller.account_id, caller.noka


def _page_size(page: common_pb2.PageRequest, *, default: int, maximum: int) -> int:
    return min(page.page_size, maximum) if page.page_size > 0 else default


def _registration(row: asyncpg.Record, facility: str) -> partner_pb2.Registration:
    return views.registration(row, desk_of=desk.desk_of(facility))


def _visit_type(value: int) -> int:
    if value not in queue_pb2.VisitType.values():
        raise rules.invalid("visit_type", "one of the VisitType values")
    return value


class QueueServicer(queue_pb2_grpc.QueueServiceServicer):
    """Facilities, schedules and bookings (for the gateway and membership)."""

    def __init__(self, *, pool: asyncpg.Pool, lanes: seats.Lanes, handoff: waitlist.Handoff, now: Clock):
        self.pool, self.lanes, self.handoff, self.now = pool, lanes, handoff, now

    async def GetFacility(self, request: queue_pb2.GetFacilityRequest,
                          context: grpc.aio.ServicerContext) -> queue_pb2.GetFacilityResponse:
        row, polis = await directory.facility(self.pool, code=request.code)
        return queue_pb2.GetFacilityResponse(facility=_facility(row, polis))

    async def SearchFacilities(self, request: queue_pb2.SearchFacilitiesRequest,
                               context: grpc.aio.ServicerContext) -> queue_pb2.SearchFacilitiesResponse:
        found = await directory.search(
            self.pool, type_=_TYPES.get(request.type), lat=request.lat if request.HasField("lat") else None,
            lon=request.lon if request.HasField("lon") else None,
            radius_km=request.radius_km if request.HasField("radius_km") else None, q=request.q,
            limit=_page_size(request.page, default=20, maximum=100))
        return queue_pb2.SearchFacilitiesResponse(facilities=[_facility(row, polis) for row, polis in found])

    async def ListSchedules(self, request: queue_pb2.ListSchedulesRequest,
                            context: grpc.aio.ServicerContext) -> queue_pb2.ListSchedulesResponse:
        rows = await directory.schedules_on(
            self.pool, facility_code=request.facility_code, day=rules.parse_date(request.date),
            poli_code=request.poli_code if request.HasField("poli_code") else None, now=self.now())
        return queue_pb2.ListSchedulesResponse(schedules=[views.schedule(r) for r in rows])

    async def CreateBooking(self, request: queue_pb2.CreateBookingRequest,
                            context: grpc.aio.ServicerContext) -> queue_pb2.CreateBookingResponse:
        account_id, noka = _caller(request.caller)
        booking, replayed = await bookings.create(self.lanes, bookings.BookingRequest(
            account_id=account_id, caller_noka=noka, schedule_id=request.schedule_id, date=request.date,
            noka=request.noka if request.HasField("noka") else None,
            referral_number=request.referral_number if request.HasField("referral_number") else None,
            visit_type=_visit_type(request.visit_type),
            medical_record_number=request.medical_record_number if request.HasField("medical_record_number") else None,
            idempotency_key=request.idempotency_key if request.HasField("idempotency_key") else None),
            now=self.now())
        return queue_pb2.CreateBookingResponse(booking=booking, replayed=replayed)

    async def ListBookings(self, request: queue_pb2.ListBookingsRequest,
                           context: grpc.aio.ServicerContext) -> queue_pb2.ListBookingsResponse:
        account_id, noka = _caller(request.caller)
        rows = await store.bookings_of(self.pool, booked_by=account_id, noka=noka,
                                       limit=_page_size(request.page, default=50, maximum=100))
        return queue_pb2.ListBookingsResponse(bookings=[views.booking(r) for r in rows])

    async def GetBooking(self, request: queue_pb2.GetBookingRequest,
                         context: grpc.aio.ServicerContext) -> queue_pb2.GetBookingResponse:
        account_id, noka = _caller(request.caller)
        now = self.now()
        row, progress = await bookings.read(self.pool, account_id=account_id, noka=noka, code=request.booking_code,
                                            now=now)
        options = await bookings.alternatives(self.pool, row, now=now)
        return queue_pb2.GetBookingResponse(booking=views.booking(row), progress=views.progress(progress),
                                            alternatives=[views.alternative(o) for o in options])

    async def CancelBooking(self, request: queue_pb2.CancelBookingRequest,
                            context: grpc.aio.ServicerContext) -> queue_pb2.CancelBookingResponse:
        account_id, noka = _caller(request.caller)
        row = await bookings.cancel(self.pool, self.handoff, account_id=account_id, noka=noka,
                                    code=request.booking_code, reason=request.reason.strip(), now=self.now())
        return queue_pb2.CancelBookingResponse(booking=views.booking(row))

    async def RescheduleBooking(self, request: queue_pb2.RescheduleBookingRequest,
                                context: grpc.aio.ServicerContext) -> queue_pb2.RescheduleBookingResponse:
        account_id, noka = _caller(request.caller)
        booking, replayed = await bookings.reschedule(self.pool, self.handoff, bookings.RescheduleRequest(
            account_id=account_id, caller_noka=noka, booking_code=request.booking_code,
            schedule_id=request.schedule_id, date=request.date,
            referral_number=request.referral_number if request.HasField("referral_number") else None,
            idempotency_key=request.idempotency_key if request.HasField("idempotency_key") else None),
            now=self.now())
        return queue_pb2.RescheduleBookingResponse(booking=booking, replayed=replayed)

    async def JoinWaitlist(self, request: queue_pb2.JoinWaitlistRequest,
                           context: grpc.aio.ServicerContext) -> queue_pb2.JoinWaitlistResponse:
        account_id, noka = _caller(request.caller)
        row = await waitlist.join(self.pool, self.handoff, waitlist.JoinRequest(
            account_id=account_id, caller_noka=noka, schedule_id=request.schedule_id, date=request.date,
            noka=request.noka if request.HasField("noka") else None,
            referral_number=request.referral_number if request.HasField("referral_number") else None,
            auto_accept=request.auto_accept if request.HasField("auto_accept") else True), now=self.now())
        return queue_pb2.JoinWaitlistResponse(entry=views.waitlist_entry(row))

    async def ListWaitlist(self, request: queue_pb2.ListWaitlistRequest,
                           context: grpc.aio.ServicerContext) -> queue_pb2.ListWaitlistResponse:
        account_id, noka = _caller(request.caller)
        rows = await waitlist.entries(self.pool, account_id=account_id, noka=noka)
        return queue_pb2.ListWaitlistResponse(entries=[views.waitlist_entry(r) for r in rows])

    async def LeaveWaitlist(self, request: queue_pb2.LeaveWaitlistRequest,
                            context: grpc.aio.ServicerContext) -> queue_pb2.LeaveWaitlistResponse:
        account_id, noka = _caller(request.caller)
        row = await waitlist.leave(self.pool, self.handoff, account_id=account_id, noka=noka,
                                   waitlist_id=request.waitlist_id, now=self.now())
        return queue_pb2.LeaveWaitlistResponse(entry=views.waitlist_entry(row))

    async def AcceptWaitlistOffer(self, request: queue_pb2.AcceptWaitlistOfferRequest,
                                  context: grpc.aio.ServicerContext) -> queue_pb2.AcceptWaitlistOfferResponse:
        account_id, noka = _caller(request.caller)
        booking = await waitlist.accept(self.pool, self.handoff, account_id=account_id, noka=noka,
                                        waitlist_id=request.waitlist_id, now=self.now())
        return queue_pb2.AcceptWaitlistOfferResponse(booking=booking)


class PartnerQueueServicer(partner_pb2_grpc.PartnerQueueServiceServicer):
    """Schedules, check-in, task times, cancellations and referrals from partner facilities
    (HMAC-signed per facility; each acts on its own data only)."""

    def __init__(self, *, pool: asyncpg.Pool, membership: membership_pb2_grpc.MembershipServiceStub,
                 handoff: waitlist.Handoff, secrets: PartnerSecrets, now: Clock):
        self.pool, self.membership, self.handoff, self.secrets, self.now = pool, membership, handoff, secrets, now

    async def _facility(self, context: grpc.aio.ServicerContext) -> str:
        """The calling facility: its signature checked, and known to the platform."""
        return await partner.known_facility(self.pool, authenticate(context, self.secrets))

    def _today(self) -> date:
        return self.now().date()

    async def UpsertSchedule(self, request: partner_pb2.UpsertScheduleRequest,
                             context: grpc.aio.ServicerContext) -> partner_pb2.UpsertScheduleResponse:
        facility = await self._facility(context)
        schedule_id = await partner.upsert_session(
            self.pool, self.handoff, facility, poli_code=request.poli_code, poli_name=request.poli_name or None,
            doctor_code=request.doctor_code, doctor_name=request.doctor_name, day=rules.parse_date(request.date),
            start=rules.parse_hhmm(request.start, "start"), end=rules.parse_hhmm(request.end, "end"),
            quota_jkn=request.quota_jkn, quota_non_jkn=request.quota_non_jkn, closed=request.closed,
            now=self.now())
        return partner_pb2.UpsertScheduleResponse(schedule_id=schedule_id)

    async def UpsertWeeklySchedule(self, request: partner_pb2.UpsertWeeklyScheduleRequest,
                                   context: grpc.aio.ServicerContext) -> partner_pb2.UpsertWeeklyScheduleResponse:
        facility = await self._facility(context)
        schedule_id = await partner.upsert_weekly(
            self.pool, self.handoff, facility, poli_code=request.poli_code, poli_name=request.poli_name or None,
            doctor_code=request.doctor_code, doctor_name=request.doctor_name, weekdays=list(request.weekdays),
            start=rules.parse_hhmm(request.start, "start"), end=rules.parse_hhmm(request.end, "end"),
            quota_jkn=request.quota_jkn, quota_non_jkn=request.quota_non_jkn,
            valid_from=rules.parse_date(request.valid_from, "valid_from") if request.HasField("valid_from")
            else self._today(),
            valid_until=rules.parse_date(request.valid_until, "valid_until") if request.HasField("valid_until")
            else None, now=self.now())
        return partner_pb2.UpsertWeeklyScheduleResponse(schedule_id=schedule_id)

    async def ListBookings(self, request: partner_pb2.PartnerQueueServiceListBookingsRequest,
                           context: grpc.aio.ServicerContext) -> partner_pb2.PartnerQueueServiceListBookingsResponse:
        facility = await self._facility(context)
        rows = await store.facility_bookings(
            self.pool, facility_code=facility, day=rules.parse_date(request.date),
            poli_code=request.poli_code.strip().upper() if request.HasField("poli_code") else None,
            limit=_page_size(request.page, default=500, maximum=1000))
        return partner_pb2.PartnerQueueServiceListBookingsResponse(bookings=[views.booking(r) for r in rows])

    async def CheckIn(self, request: partner_pb2.CheckInRequest,
                      context: grpc.aio.ServicerContext) -> partner_pb2.CheckInResponse:
        facility = await self._facility(context)
        row = await partner.check_in(self.pool, facility, request.booking_code, request.at, now=self.now())
        return partner_pb2.CheckInResponse(booking=views.booking(row))

    async def UpdateTask(self, request: partner_pb2.UpdateTaskRequest,
                         context: grpc.aio.ServicerContext) -> partner_pb2.UpdateTaskResponse:
        facility = await self._facility(context)
        row = await partner.record_task(self.pool, self.handoff, facility, request.booking_code, request.task_id,
                                        request.at, now=self.now())
        return partner_pb2.UpdateTaskResponse(booking=views.booking(row))

    async def CancelBooking(self, request: partner_pb2.PartnerQueueServiceCancelBookingRequest,
                            context: grpc.aio.ServicerContext) -> partner_pb2.PartnerQueueServiceCancelBookingResponse:
        facility = await self._facility(context)
        row = await partner.cancel(self.pool, self.handoff, facility, request.booking_code, request.reason,
                                   now=self.now())
        return partner_pb2.PartnerQueueServiceCancelBookingResponse(booking=views.booking(row))

    async def GetQueueStatus(self, request: partner_pb2.GetQueueStatusRequest,
                             context: grpc.aio.ServicerContext) -> partner_pb2.GetQueueStatusResponse:
        facility = await self._facility(context)
        total, remaining, now_serving, waiting = await partner.queue_status(
            self.pool, facility, request.schedule_id, rules.parse_date(request.date))
        return partner_pb2.GetQueueStatusResponse(total=total, remaining=remaining, now_serving=now_serving,
                                                  waitlist=waiting)

    async def IssueReferral(self, request: partner_pb2.IssueReferralRequest,
                            context: grpc.aio.ServicerContext) -> partner_pb2.IssueReferralResponse:
        facility = await self._facility(context)
        number, valid_until = await partner.issue_referral(
            self.pool, self.membership, facility, noka=request.noka, to_facility=request.to_facility_code,
            poli_code=request.poli_code, visit_type=_visit_type(request.visit_type), today=self._today())
        return partner_pb2.IssueReferralResponse(referral_number=number, valid_until=valid_until.isoformat())

    # --- for hospital desks and the BPJS bridge (`registrations`, `desk`) ------------------------

    async def ListReferences(self, request: partner_pb2.ListReferencesRequest,
                             context: grpc.aio.ServicerContext) -> partner_pb2.ListReferencesResponse:
        polis, doctors = await registrations.references(self.pool, await self._facility(context))
        return partner_pb2.ListReferencesResponse(
            polis=[common_pb2.CodeName(code=p["code"], name=p["name"]) for p in polis],
            doctors=[common_pb2.CodeName(code=d["code"], name=d["name"]) for d in doctors])

    async def ListSessions(self, request: partner_pb2.ListSessionsRequest,
                           context: grpc.aio.ServicerContext) -> partner_pb2.ListSessionsResponse:
        rows = await registrations.sessions(
            self.pool, await self._facility(context), day=rules.parse_date(request.date),
            poli_code=request.poli_code if request.HasField("poli_code") else None, now=self.now())
        return partner_pb2.ListSessionsResponse(sessions=[views.partner_session(r) for r in rows])

    async def CreateDeskBooking(self, request: partner_pb2.CreateDeskBookingRequest,
                                context: grpc.aio.ServicerContext) -> partner_pb2.CreateDeskBookingResponse:
        facility = await self._facility(context)
        row = await desk.create(self.pool, self.membership, facility, desk.DeskBooking(
            booking_code=request.booking_code, noka=request.noka, poli_code=request.poli_code,
            doctor_code=request.doctor_code, date=request.date, visit_type=_visit_type(request.visit_type),
            referral_number=request.referral_number or None,
            medical_record_number=request.medical_record_number or None, start=request.start or None,
            non_jkn=request.non_jkn, nik=request.nik or None), now=self.now())
        return partner_pb2.CreateDeskBookingResponse(registration=_registration(row, facility))

    async def GetRegistration(self, request: partner_pb2.GetRegistrationRequest,
                              context: grpc.aio.ServicerContext) -> partner_pb2.GetRegistrationResponse:
        facility = await self._facility(context)
        row = await registrations.registration(self.pool, facility, request.booking_code)
        return partner_pb2.GetRegistrationResponse(registration=_registration(row, facility))

    async def ListRegistrations(self, request: partner_pb2.ListRegistrationsRequest,
                                context: grpc.aio.ServicerContext) -> partner_pb2.ListRegistrationsResponse:
        facility = await self._facility(context)
        rows = await registrations.registrations_on(self.pool, facility, day=rules.parse_date(request.date))
        return partner_pb2.ListRegistrationsResponse(registrations=[_registration(r, facility) for r in rows])

    async def GetReferral(self, request: partner_pb2.GetReferralRequest,
                          context: grpc.aio.ServicerContext) -> partner_pb2.GetReferralResponse:
        facility = await self._facility(context)
        row, from_name, poli_name = await registrations.referral(self.pool, facility, request.referral_number)
        return views.referral(row, from_name=from_name, poli_name=poli_name)
