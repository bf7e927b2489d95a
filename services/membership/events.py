"""What membership publishes on ``membership.events`` (`jkn/membership/v1/events.proto`), through
the outbox, in the transaction of the change (each function takes that transaction's connection).

- `family_enrolled` (key: the head's NOKA): a new self-paying family awaits its first payment.
- `fktp_change_requested` / `fktp_changed` (key: the NOKA): a change asked for, and taking effect.
- `payment_received` (key: the family id): auth tells every account of the family by SMS.
- `status_changed` (key: the NOKA): a payment activated the participant (AKTIF, no reason), or
  arrears lapsed them (TIDAK_AKTIF, TUNGGAKAN_IURAN).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import asyncpg

from jkn.membership.v1 import events_pb2, membership_pb2
from services.kit.events import publish
from services.kit.kafka import MEMBERSHIP_EVENTS

FamilyEnrolled = events_pb2.FamilyEnrolled
FktpChangeRequested = events_pb2.FktpChangeRequested
FktpChanged = events_pb2.FktpChanged
PaymentReceived = events_pb2.PaymentReceived
StatusChanged = events_pb2.StatusChanged

Status = Literal["AKTIF", "TIDAK_AKTIF"]
Reason = Literal["TUNGGAKAN_IURAN", "PENANGGUHAN", "MENUNGGU_PEMBAYARAN", "MENINGGAL"]


async def family_enrolled(conn: asyncpg.Connection, *, head_noka: str, nokas: list[str]) -> None:
    await publish(conn, MEMBERSHIP_EVENTS, FamilyEnrolled(nokas=nokas), key=head_noka)


async def fktp_change_requested(conn: asyncpg.Connection, *, noka: str, to_facility_code: str,
                                effective_date: date) -> None:
    await publish(conn, MEMBERSHIP_EVENTS, FktpChangeRequested(
        noka=noka, to_facility_code=to_facility_code, effective_date=effective_date.isoformat()), key=noka)


async def fktp_changed(conn: asyncpg.Connection, *, noka: str, fktp_code: str) -> None:
    await publish(conn, MEMBERSHIP_EVENTS, FktpChanged(noka=noka, fktp_code=fktp_code), key=noka)


async def payment_received(conn: asyncpg.Connection, *, family_id: int, payment_id: str, amount_idr: int,
                           periods: list[str], nokas: list[str]) -> None:
    await publish(conn, MEMBERSHIP_EVENTS, PaymentReceived(
        payment_id=payment_id, amount_idr=amount_idr, periods=periods, nokas=nokas), key=str(family_id))


async def status_changed(conn: asyncpg.Connection, *, noka: str, status: Status, reason: Reason | None) -> None:
    await publish(conn, MEMBERSHIP_EVENTS, StatusChanged(
        noka=noka, status=membership_pb2.ParticipantStatus.Value(f"PARTICIPANT_STATUS_{status}"),
        status_reason=membership_pb2.StatusReason.Value(f"STATUS_REASON_{reason or 'UNSPECIFIED'}")), key=noka)
