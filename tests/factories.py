"""Test data, made one way everywhere: the demo people of CONTRACT.md §6, synthetic participants,
and accounts, tokens, schedules and bookings made through the platform's own interfaces (the
gateway's REST routes or the services' gRPC APIs), never by writing another service's tables."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import jwt

from jkn.queue.v1 import queue_pb2, queue_pb2_grpc
from services.kit.signing import SigningKey
from services.membership import bulk


@dataclass(frozen=True)
class Person:
    """A participant of the demo data (CONTRACT.md §6)."""

    name: str
    nik: str
    noka: str
    birth_date: str
    fktp: str
    #: Demo accounts only (Dewi, Rudi): their password and phone.
    password: str | None = None
    phone: str | None = None

    def registration(self, *, phone: str, email: str, password: str, by: str = "noka") -> dict[str, str]:
        """The body of ``POST /v1/registrations`` activating this person's account (by NOKA or NIK)."""
        return {"identifier": self.noka if by == "noka" else self.nik, "birth_date": self.birth_date,
                "phone": phone, "email": email, "password": password}


BUDI = Person("BUDI SANTOSO", "3171011501800001", "0001234567801", "1980-01-15", "0114U001")
SRI = Person("SRI RAHAYU", "3171015203820002", "0001234567802", "1982-03-12", "0114U001")
ANDI = Person("ANDI SANTOSO", "3171012107100003", "0001234567803", "2010-07-21", "0114U001")
SITI = Person("SITI AMINAH", "3273024506850004", "0002345678904", "1985-06-05", "3273U001")  # 3 unpaid months
AGUS = Person("AGUS PRATAMA", "3578010203900005", "0003456789005", "1990-03-02", "0114U002")
DEWI = Person("DEWI LESTARI", "5171014408950006", "0004567890006", "1995-08-04", "0114U001",
              password="Sehat#2026", phone="+6281234500006")
RUDI = Person("RUDI HARTONO", "3171010505750007", "0005678900007", "1975-05-05", "0114U001",
              password="Sehat#2026", phone="+6281234500007")


# -- participants ------------------------------------------------------------------------------
async def participants(membership_dsn: str, *, fktp: str, count: int) -> list[str]:
    """The NOKAs of ``count`` AKTIF participants registered at ``fktp``: synthetic families loaded
    by the bulk loader (`make seed-bulk`) into the membership database."""
    await bulk.load(membership_dsn, count * 8, batch=5_000)
    return [r["noka"] for r in await bulk.active_at(membership_dsn, fktp, count)]


# -- accounts and tokens -----------------------------------------------------------------------
def access_token(key: SigningKey, *, account_id: str = "acc-1", session_id: str = "ses-1",
                 noka: str | None = None, ttl_s: int = 900, **claims: Any) -> str:
    """An access token as auth signs it (claims set to None are left out)."""
    now = int(time.time())
    body = {"sub": account_id, "sid": session_id, "jti": uuid.uuid4().hex, "iat": now, "exp": now + ttl_s,
            "noka": noka, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key.private_key, algorithm="EdDSA",
                      headers={"kid": key.kid})


def latest_code(gateway: str, to: str, timeout_s: float = 30) -> str:
    """The newest one-time code the dev stack sent to ``to`` (its dev outbox)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        items = httpx.get(f"{gateway}/dev/outbox", params={"to": to}).json()["items"]
        if items:
            return items[0]["code"]
        time.sleep(0.2)
    raise AssertionError(f"no code arrived for {to}")


def activate(gateway: str, registration: dict[str, str]) -> str:
    """Activate an account through the gateway (the SMS code from the dev outbox); its account id."""
    started = httpx.post(f"{gateway}/v1/registrations", json=registration)
    assert started.status_code == 201, started.text
    phone = registration["phone"]
    code = latest_code(gateway, "+62" + phone[1:] if phone.startswith("0") else phone)
    verified = httpx.post(f"{gateway}/v1/registrations/{started.json()['registration_id']}/verify",
                          json={"code": code})
    assert verified.status_code == 201, verified.text
    return verified.json()["account_id"]


def bearer(gateway: str, identifier: str, password: str) -> dict[str, str]:
    """The Authorization header of a fresh session."""
    session = httpx.post(f"{gateway}/v1/sessions", json={"identifier": identifier, "password": password})
    assert session.status_code == 201, session.text
    return {"Authorization": f"Bearer {session.json()['access_token']}"}


# -- schedules and bookings (queue over gRPC) ---------------------------------------------------
def caller(noka: str, account_id: str | None = None) -> queue_pb2.Caller:
    """The signed-in participant as the gateway passes it to queue (a stable account id per NOKA)."""
    return queue_pb2.Caller(account_id=account_id or str(uuid.uuid5(uuid.NAMESPACE_OID, noka)), noka=noka)


async def schedule_id(queue: queue_pb2_grpc.QueueServiceStub, *, facility: str, poli: str, day: date) -> str:
    """The one doctor's session of ``poli`` at ``facility`` on ``day``."""
    reply = await queue.ListSchedules(queue_pb2.ListSchedulesRequest(
        facility_code=facility, date=day.isoformat(), poli_code=poli))
    (schedule,) = reply.schedules
    return schedule.schedule_id


async def book(queue: queue_pb2_grpc.QueueServiceStub, *, noka: str, facility: str, poli: str, day: date,
               booked_by: queue_pb2.Caller | None = None, schedule: str | None = None,
               **fields: Any) -> queue_pb2.CreateBookingResponse:
    """Book ``noka`` (by ``booked_by``, by default the patient) at the session of ``poli`` on ``day``."""
    return await queue.CreateBooking(queue_pb2.CreateBookingRequest(
        caller=booked_by or caller(noka), date=day.isoformat(), noka=noka,
        schedule_id=schedule or await schedule_id(queue, facility=facility, poli=poli, day=day), **fields))
