"""Facilities: nearest first within a radius, by type and name (demo data of CONTRACT.md §6)."""

from __future__ import annotations

from datetime import date

import grpc
import pytest

from jkn.queue.v1 import queue_pb2, queue_pb2_grpc
from services.kit.errors import decode_rpc_error
from services.queue import facilities
from services.queue.app import build
from services.queue.settings import QueueSettings

MENTENG = (-6.1960, 106.8300)


def test_distance_and_bounding_box():
    assert facilities.distance_km(-6.1957, 106.8312, -6.8889, 107.5960) == pytest.approx(114, abs=3)
    min_lat, max_lat, min_lon, max_lon = facilities.bounding_box(*MENTENG, 10)
    assert min_lat < MENTENG[0] < max_lat and min_lon < MENTENG[1] < max_lon
    assert facilities.clamp_radius(None) == 10 and facilities.clamp_radius(500) == 100


@pytest.fixture
async def queue(service):
    async with (service(QueueSettings, build, seed_demo_data=True, demo_today=date.today()) as running,
                grpc.aio.insecure_channel(running.address) as channel):
        yield queue_pb2_grpc.QueueServiceStub(channel)


async def test_nearest_first_within_the_radius(queue):
    reply = await queue.SearchFacilities(queue_pb2.SearchFacilitiesRequest(lat=MENTENG[0], lon=MENTENG[1],
                                                                           radius_km=20))
    codes = [f.code for f in reply.facilities]
    assert codes[0] == "0114U001" and "3273U001" not in codes  # Bandung is ~115 km away
    distances = [f.distance_km for f in reply.facilities]
    assert distances == sorted(distances) and distances[0] < 0.5


async def test_filter_by_type_and_name(queue):
    hospitals = await queue.SearchFacilities(queue_pb2.SearchFacilitiesRequest(
        type=queue_pb2.FACILITY_TYPE_FKRTL, lat=MENTENG[0], lon=MENTENG[1]))
    assert [f.code for f in hospitals.facilities] == ["0114R001"]
    assert [p.code for p in hospitals.facilities[0].polis] == ["ANA", "INT", "MAT"]
    named = await queue.SearchFacilities(queue_pb2.SearchFacilitiesRequest(q="sukajadi"))
    assert [f.code for f in named.facilities] == ["3273U001"] and not named.facilities[0].HasField("distance_km")


async def test_get_facility_and_unknown_code(queue):
    clinic = (await queue.GetFacility(queue_pb2.GetFacilityRequest(code="0114u001"))).facility
    assert clinic.type == queue_pb2.FACILITY_TYPE_FKTP and clinic.name == "Klinik Pratama Sehat Menteng"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await queue.GetFacility(queue_pb2.GetFacilityRequest(code="9999X999"))
    assert decode_rpc_error(caught.value).code == "NOT_FOUND"


async def test_half_a_point_is_a_validation_error(queue):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await queue.SearchFacilities(queue_pb2.SearchFacilitiesRequest(lat=-6.2))
    assert decode_rpc_error(caught.value).code == "VALIDATION_ERROR"
