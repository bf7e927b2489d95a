"""A participant asks to change FKTP (PUT /v1/me/fktp): the order of the checks and the one
transaction that records the change. The rules are `fktp`'s (numbers below are its rules).

1. The participant (participants rule 1).
2. Rule 1: not within 3 calendar months of the last change (or of registration):
   FKTP_CHANGE_TOO_SOON with ``next_allowed_date``.
3. Rule 3: the new facility, asked of queue (which owns facilities), exists and is an FKTP other
   than the current one: FACILITY_INVALID otherwise.
4. Rule 2: the change is recorded with its effective date (the 1st of next month) and announced
   (`events.fktp_change_requested`); the periodic job applies it on that date (`jobs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import asyncpg

from jkn.queue.v1 import queue_pb2, queue_pb2_grpc
from services.kit.errors import DomainError, call_peer
from services.membership import events, fktp, participants, store
from services.membership.stamps import Stamps

_TYPES = {queue_pb2.FACILITY_TYPE_FKTP: "FKTP", queue_pb2.FACILITY_TYPE_FKRTL: "FKRTL"}


@dataclass(frozen=True)
class Requested:
    facility: queue_pb2.Facility
    effective_date: date


async def new_fktp(queue: queue_pb2_grpc.QueueServiceStub, *, code: str, current_code: str) -> queue_pb2.Facility:
    """Rule 3, for a change and for an enrolment's chosen FKTP (``current_code`` empty): the
    facility ``code`` as queue knows it (a code that is not 1–20 ASCII letters and digits names none,
    and queue is not asked)."""
    if not (0 < len(code) <= 20 and code.isascii() and code.isalnum()):
        raise DomainError("no such facility", code="FACILITY_INVALID")
    reply = await call_peer(queue.GetFacility(queue_pb2.GetFacilityRequest(code=code)),
                            NOT_FOUND=DomainError("no such facility", code="FACILITY_INVALID"))
    facility = reply.facility
    if not fktp.is_valid_new_fktp(facility_type=_TYPES.get(facility.type, ""), facility_code=facility.code,
                                  current_code=current_code):
        raise DomainError("not another first-level facility", code="FACILITY_INVALID")
    return facility


async def request(pool: asyncpg.Pool, *, queue: queue_pb2_grpc.QueueServiceStub, noka: str, facility_code: str,
                  today: date, stamps: Stamps | None = None) -> Requested:
    """Steps 1–4; the family then reads its membership afresh (`stamps`)."""
    row = await participants.find(pool, noka=noka)
    since = await store.last_fktp_change_on(pool, participant_id=row["id"]) or row["registered_on"]
    if not fktp.can_change(last_change_or_registration=since, today=today):
        raise DomainError("FKTP changed too recently", code="FKTP_CHANGE_TOO_SOON",
                          next_allowed_date=fktp.next_change_allowed_on(since).isoformat())
    facility = await new_fktp(queue, code=facility_code.strip().upper(), current_code=row["fktp_code"])
    effective = fktp.effective_date(today)
    async with pool.acquire() as conn, conn.transaction():
        await store.add_fktp_change(conn, participant_id=row["id"], from_code=row["fktp_code"],
                                    to_code=facility.code, to_name=facility.name, requested_on=today,
                                    effective_date=effective)
        await events.fktp_change_requested(conn, noka=row["noka"], to_facility_code=facility.code,
                                           effective_date=effective)
    if stamps is not None:
        await stamps.expire_families_of(pool, [row["noka"]])
    return Requested(facility=facility, effective_date=effective)
