"""Queue records → API messages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg
from google.protobuf.timestamp_pb2 import Timestamp

from jkn.common.v1 import common_pb2
from jkn.queue.v1 import partner_pb2, queue_pb2
from services.queue import rules

if TYPE_CHECKING:  # bookings imports this module
    from services.queue.bookings import Progress


def timestamp(at: datetime) -> Timestamp:
    message = Timestamp()
    message.FromDatetime(at)
    return message


def schedule(row: asyncpg.Record) -> queue_pb2.Schedule:
    return queue_pb2.Schedule(
        schedule_id=str(row["schedule_id"]),
        facility=common_pb2.CodeName(code=row["facility_code"], name=row["facility_name"]),
        poli=common_pb2.CodeName(code=row["poli_code"], name=row["poli_name"]),
        doctor=common_pb2.CodeName(code=row["doctor_code"], name=row["doctor_name"]),
        date=row["date"].isoformat(), start=f"{row['start_time']:%H:%M}", end=f"{row['end_time']:%H:%M}",
        quota_jkn=row["quota_jkn"], remaining_jkn=max(row["quota_jkn"] - row["taken_jkn"], 0),
        quota_non_jkn=row["quota_non_jkn"])


def booking(row: Mapping[str, Any]) -> queue_pb2.Booking:
    message = queue_pb2.Booking(
        booking_code=row["code"], queue_number=rules.queue_number(row["poli_code"], row["seq"]), queue_seq=row["seq"],
        status=queue_pb2.BookingStatus.Value(f"BOOKING_STATUS_{row['status']}"), date=row["date"].isoformat(),
        facility=common_pb2.CodeName(code=row["facility_code"], name=row["facility_name"]),
        poli=common_pb2.CodeName(code=row["poli_code"], name=row["poli_name"]),
        doctor=common_pb2.CodeName(code=row["doctor_code"], name=row["doctor_name"]), noka=row["noka"],
        estimated_service_at=timestamp(rules.estimated_service_at(visit_date=row["date"], start=row["start_time"],
                                                                  seq=row["seq"])),
        remaining_jkn=max(row["quota_jkn"] - row["taken_jkn"], 0), new_patient=row["new_patient"],
        schedule_id=str(row["schedule_id"]), visit_type=row["visit_type"], created_at=timestamp(row["created_at"]))
    for name in ("referral_number", "medical_record_number", "cancel_reason", "rescheduled_to", "rescheduled_from"):
        if row.get(name):
            setattr(message, name, row[name])
    if row.get("waitlist_id"):
        message.waitlist_id = str(row["waitlist_id"])
    if row["checked_in_at"]:
        message.checked_in_at.CopyFrom(timestamp(row["checked_in_at"]))
    for task_id, at in json.loads(row["tasks"]):
        message.tasks.add(task_id=task_id, at=timestamp(datetime.fromisoformat(at)))
    return message


def progress(progress: Progress) -> queue_pb2.QueueProgress:
    message = queue_pb2.QueueProgress(ahead=progress.ahead,
                                      estimated_service_at=timestamp(progress.estimated_service_at))
    if progress.now_serving:
        message.now_serving = progress.now_serving
    return message


# --- for hospital desks and the BPJS bridge (`registrations`, `desk`) -----------------------------

def registration(row: Mapping[str, Any], *, desk_of: str) -> partner_pb2.Registration:
    """A booking as its facility sees it; ``desk_of`` is the id the facility's desk books as."""
    source = partner_pb2.BOOKING_SOURCE_DESK if str(row["booked_by"]) == desk_of else partner_pb2.BOOKING_SOURCE_APP
    message = partner_pb2.Registration(booking=booking(row), source=source, quota_jkn=row["quota_jkn"],
                                       quota_non_jkn=row["quota_non_jkn"], start=f"{row['start_time']:%H:%M}",
                                       end=f"{row['end_time']:%H:%M}", taken_non_jkn=row["taken_non_jkn"],
                                       non_jkn=row["kind"] == "NON_JKN")
    for task_id, at in json.loads(row["received"]):
        message.received.add(task_id=task_id, at=timestamp(datetime.fromisoformat(at)))
    return message


def partner_session(row: asyncpg.Record) -> partner_pb2.PartnerSession:
    return partner_pb2.PartnerSession(schedule=schedule(row), closed=row["closed"])


def referral(row: asyncpg.Record, *, from_name: str, poli_name: str) -> partner_pb2.GetReferralResponse:
    return partner_pb2.GetReferralResponse(
        referral_number=row["number"], noka=row["noka"], issued_on=row["issued_on"].isoformat(),
        valid_until=row["valid_until"].isoformat(),
        from_facility=common_pb2.CodeName(code=row["from_facility"], name=from_name),
        poli=common_pb2.CodeName(code=row["poli_code"], name=poli_name), visit_type=row["visit_type"])


def alternative(row: asyncpg.Record) -> queue_pb2.Alternative:
    return queue_pb2.Alternative(
        schedule_id=str(row["schedule_id"]), date=row["date"].isoformat(),
        doctor=common_pb2.CodeName(code=row["doctor_code"], name=row["doctor_name"]),
        start=f"{row['start_time']:%H:%M}", remaining_jkn=max(row["quota_jkn"] - row["taken_jkn"], 0))


def waitlist_entry(row: asyncpg.Record) -> queue_pb2.WaitlistEntry:
    message = queue_pb2.WaitlistEntry(
        waitlist_id=str(row["id"]), status=queue_pb2.WaitlistStatus.Value(f"WAITLIST_STATUS_{row['status']}"),
        position=row["position"], schedule_id=str(row["schedule_id"]), date=row["date"].isoformat(), noka=row["noka"],
        auto_accept=row["auto_accept"],
        facility=common_pb2.CodeName(code=row["facility_code"], name=row["facility_name"]),
        poli=common_pb2.CodeName(code=row["poli_code"], name=row["poli_name"]),
        doctor=common_pb2.CodeName(code=row["doctor_code"], name=row["doctor_name"]),
        created_at=timestamp(row["created_at"]))
    if row["offer_expires_at"] is not None and row["status"] in ("OFFERED", "EXPIRED"):
        message.offer_expires_at.CopyFrom(timestamp(row["offer_expires_at"]))
    if row["booking_code"]:
        message.booking_code = row["booking_code"]
    if row["end_reason"]:
        message.end_reason = row["end_reason"]
    return message
