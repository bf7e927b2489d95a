"""Queue's gRPC servicers (internal and partner): thin translation to the store and rules.
Bookings, schedules and the partner RPCs arrive with issue 6 (UNIMPLEMENTED until then)."""

from __future__ import annotations

import asyncpg

from jkn.common.v1 import common_pb2
from jkn.queue.v1 import partner_pb2_grpc, queue_pb2, queue_pb2_grpc
from services.kit.errors import NotFound, ValidationFailed
from services.queue import facilities, store

_TYPES = {queue_pb2.FACILITY_TYPE_FKTP: "FKTP", queue_pb2.FACILITY_TYPE_FKRTL: "FKRTL"}


def _facility(row: asyncpg.Record, polis: list[asyncpg.Record]) -> queue_pb2.Facility:
    message = queue_pb2.Facility(code=row["code"], name=row["name"], type=queue_pb2.FacilityType.Value(
        f"FACILITY_TYPE_{row['type']}"), address=row["address"], lat=row["lat"], lon=row["lon"],
        polis=[common_pb2.CodeName(code=p["code"], name=p["name"]) for p in polis])
    distance = row.get("distance_km")
    if distance is not None:
        message.distance_km = round(distance, 2)
    return message


class QueueServicer(queue_pb2_grpc.QueueServiceServicer):
    """Facilities, schedules and bookings (for the gateway and membership)."""

    def __init__(self, *, pool: asyncpg.Pool):
        self.pool = pool

    async def GetFacility(self, request, context):
        row = await store.facility(self.pool, request.code.strip().upper())
        if row is None:
            raise NotFound("no such facility")
        polis = await store.polis_of(self.pool, [row["code"]])
        return queue_pb2.GetFacilityResponse(facility=_facility(row, polis.get(row["code"], [])))

    async def SearchFacilities(self, request, context):
        """Facilities rule 1: nearest first within the radius, or by name."""
        has_point = request.HasField("lat") and request.HasField("lon")
        if request.HasField("lat") != request.HasField("lon") or (
                has_point and not (-90 <= request.lat <= 90 and -180 <= request.lon <= 180)):
            raise ValidationFailed([{"field": "lat,lon", "code": "invalid", "message": "a valid point, both parts"}])
        limit = min(request.page.page_size or 20, 100)
        rows = await store.search(
            self.pool, type_=_TYPES.get(request.type), lat=request.lat if has_point else None,
            lon=request.lon if has_point else None,
            radius_km=facilities.clamp_radius(request.radius_km if request.HasField("radius_km") else None),
            q=request.q.strip()[:64], limit=limit)
        polis = await store.polis_of(self.pool, [r["code"] for r in rows])
        return queue_pb2.SearchFacilitiesResponse(facilities=[_facility(r, polis.get(r["code"], [])) for r in rows])


class PartnerQueueServicer(partner_pb2_grpc.PartnerQueueServiceServicer):
    """Schedules, check-in, task times, cancellations and referrals from partner facilities."""
