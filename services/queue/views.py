"""Queue records → API messages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg
from google.protobuf.timestamp_pb2 import Timestamp

from jkn.common.v1 import common_pb2
from jkn.queue.v1 import queue_pb2
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
    for name in ("referral_number", "medical_record_number", "cancel_reason"):
        if row[name]:
            setattr(message, name, row[name])
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
