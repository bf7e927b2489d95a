"""Facilities: nearest first within a radius, by type and name (demo data of CONTRACT.md §6)."""

from __future__ import annotations

import math

import grpc
import pytest

from jkn.queue.v1 import queue_pb2, queue_pb2_grpc
from services.kit.clock import jakarta_today
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



ONE_DEGREE_KM = 6371 * math.pi / 180  # an arc of one degree on a great circle


def test_distance_is_the_great_circle():
    """Pure: the haversine distance on a sphere of radius 6371 km."""
    assert facilities.distance_km(*MENTENG, *MENTENG) == 0
    assert facilities.distance_km(0, 100, 0, 101) == pytest.approx(ONE_DEGREE_KM, rel=1e-9)  # along the equator
    assert facilities.distance_km(-7, 106, -5.5, 106) == pytest.approx(1.5 * ONE_DEGREE_KM, rel=1e-9)  # a meridian
    at_60 = 6371 * math.acos(math.sin(math.radians(60)) ** 2 + math.cos(math.radians(60)) ** 2 * math.cos(
        math.radians(1)))  # a degree of longitude at 60°, by the spherical law of cosines
    assert facilities.distance_km(60, 10, 60, 11) == pytest.approx(at_60, rel=1e-6)
    assert facilities.distance_km(0, 0, 0, 180) == pytest.approx(180 * ONE_DEGREE_KM, rel=1e-9)  # the antipode
    jakarta_bandung = facilities.distance_km(-6.1957, 106.8312, -6.8889, 107.5960)
    assert facilities.distance_km(-6.8889, 107.5960, -6.1957, 106.8312) == pytest.approx(jakarta_bandung, rel=1e-12)


def test_the_box_is_as_wide_as_the_circle():
    """Pure: the bounding box reaches exactly the radius north, south, east and west."""
    assert facilities.bounding_box(0, 100, ONE_DEGREE_KM) == pytest.approx((-1, 1, 99, 101), rel=1e-9)
    min_lat, max_lat, min_lon, max_lon = facilities.bounding_box(60, 10, ONE_DEGREE_KM)
    assert (min_lat, max_lat) == pytest.approx((59, 61), rel=1e-9)
    assert (min_lon, max_lon) == pytest.approx((8, 12), rel=1e-9)  # meridians are half as far apart at 60°
    lat, lon, radius = *MENTENG, 10
    min_lat, max_lat, min_lon, max_lon = facilities.bounding_box(lat, lon, radius)
    for corner_lat, corner_lon in ((min_lat, lon), (max_lat, lon), (lat, min_lon), (lat, max_lon)):
        assert facilities.distance_km(lat, lon, corner_lat, corner_lon) == pytest.approx(radius, rel=1e-3)


def test_the_box_at_a_pole_spans_every_longitude():
    """Pure: no division by zero at the pole, and the box still contains the circle."""
    min_lat, max_lat, min_lon, max_lon = facilities.bounding_box(90, 0, 10)
    assert max_lat - min_lat == pytest.approx(2 * 10 / ONE_DEGREE_KM, rel=1e-9)
    assert min_lon < -180 and max_lon > 180


@pytest.mark.parametrize(("asked", "used"), [
    (None, 10), (0, 10), (-5, 10), (0.5, 0.5), (1, 1), (25, 25), (99.9, 99.9), (100, 100), (100.5, 100), (500, 100),
])
def test_search_radius_defaults_and_cap(asked, used):
    """Pure: 10 km unless a positive radius is asked for, and never more than 100 km."""
    assert facilities.clamp_radius(asked) == used

@pytest.fixture
async def queue(service):
    async with (service(QueueSettings, build, seed_demo_data=True, demo_today=jakarta_today()) as running,
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
