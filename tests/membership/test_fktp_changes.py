"""Asking to change FKTP (`fktp_changes`): FKTP rule 3 as a plain function, and the use case against
a real queue (which owns the facilities) and membership's real database."""

from __future__ import annotations

import grpc
import pytest

from jkn.membership.v1 import events_pb2
from jkn.queue.v1 import queue_pb2_grpc
from services.kit.clock import jakarta_today
from services.kit.errors import DomainError
from services.kit.events import event_type
from services.membership import fktp, fktp_changes
from services.queue.app import build as build_queue
from services.queue.settings import QueueSettings

DEWI, AGUS = "0004567890006", "0003456789005"  # FKTP 0114U001 (never changed); changed 30 days ago


@pytest.mark.parametrize(("facility_type", "code", "current", "valid"), [
    ("FKTP", "0114U002", "0114U001", True),    # another clinic
    ("FKTP", "0114U001", "", True),            # a new participant has no current FKTP
    ("FKRTL", "0114R001", "0114U001", False),  # a hospital is never an FKTP
    ("FKTP", "0114U001", "0114U001", False),   # the current one is no change
    ("", "0114U002", "0114U001", False),       # a facility of no known type
])
def test_rule_3_the_new_facility_is_an_fktp_other_than_the_current_one(facility_type, code, current, valid):
    assert fktp.is_valid_new_fktp(facility_type=facility_type, facility_code=code, current_code=current) is valid


@pytest.fixture
async def queue(service):
    async with (service(QueueSettings, build_queue, seed_demo_data=True, demo_today=jakarta_today()) as running,
                grpc.aio.insecure_channel(running.address) as channel):
        yield queue_pb2_grpc.QueueServiceStub(channel)


async def test_a_change_is_recorded_and_announced_with_its_effective_date(membership_db, queue):
    today = jakarta_today()
    requested = await fktp_changes.request(membership_db, queue=queue, noka=DEWI, facility_code=" 0114u002 ",
                                           today=today)
    assert (requested.facility.code, requested.effective_date) == ("0114U002", fktp.effective_date(today))
    rows = await membership_db.fetch("SELECT topic, key, event_type, payload FROM outbox")
    assert [(r["topic"], r["key"], r["event_type"]) for r in rows] == [
        ("membership.events", DEWI.encode(), event_type(events_pb2.FktpChangeRequested))]
    announced = events_pb2.FktpChangeRequested.FromString(rows[0]["payload"])
    assert (announced.noka, announced.to_facility_code, announced.effective_date) == (
        DEWI, "0114U002", fktp.effective_date(today).isoformat())


@pytest.mark.parametrize("code", ["9999X999", "0114R001", "0114U001"])  # unknown to queue, a hospital, her own
async def test_only_another_fktp_known_to_queue_is_accepted_and_nothing_is_recorded(membership_db, queue, code):
    with pytest.raises(DomainError) as refused:
        await fktp_changes.request(membership_db, queue=queue, noka=DEWI, facility_code=code, today=jakarta_today())
    assert refused.value.code == "FACILITY_INVALID"
    assert await membership_db.fetchval("SELECT count(*) FROM fktp_changes") == 1  # Agus's, from the demo data
    assert await membership_db.fetchval("SELECT count(*) FROM outbox") == 0


async def test_too_soon_is_refused_before_queue_is_asked(membership_db):
    # No queue at all: rule 1 answers first, so the facility is never looked up.
    async with grpc.aio.insecure_channel("127.0.0.1:1") as channel:
        with pytest.raises(DomainError) as refused:
            await fktp_changes.request(membership_db, queue=queue_pb2_grpc.QueueServiceStub(channel), noka=AGUS,
                                       facility_code="0114U001", today=jakarta_today())
    assert refused.value.code == "FKTP_CHANGE_TOO_SOON" and "next_allowed_date" in refused.value.fields
