"""A call that takes a seat waits for it longer than other calls: at 06:00 thousands of attempts
queue behind one another in the queue service for seconds, and a person would rather wait than be
told 503. The queue behind the gateway here is a real gRPC server that records the deadline each
call arrived with (and refuses it, so nothing is booked)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import grpc

from jkn.queue.v1 import queue_pb2_grpc
from services.kit.clock import jakarta_today
from services.kit.signing import load_signing_keys
from tests.factories import access_token

KEY = load_signing_keys("dev-jwt-signing-key")[0]  # the auth service's dev default


class RecordingQueue(queue_pb2_grpc.QueueServiceServicer):
    def __init__(self) -> None:
        self.deadlines: dict[str, float] = {}

    async def CreateBooking(self, request, context):  # noqa: N802 - the generated name
        self.deadlines["CreateBooking"] = context.time_remaining()
        await context.abort(grpc.StatusCode.NOT_FOUND, "no such schedule")

    async def ListBookings(self, request, context):  # noqa: N802
        self.deadlines["ListBookings"] = context.time_remaining()
        await context.abort(grpc.StatusCode.NOT_FOUND, "none")


async def test_a_booking_waits_for_its_seat_longer_than_the_default_deadline(platform, gateway_client):
    recorder = RecordingQueue()
    server = grpc.aio.server()
    queue_pb2_grpc.add_QueueServiceServicer_to_server(recorder, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    addresses = {name: running.address for name, running in platform.items()} | {"queue": f"127.0.0.1:{port}"}
    headers = {"Authorization": f"Bearer {access_token(KEY, sub=str(uuid.uuid4()), noka='0004567890006')}"}
    body = {"schedule_id": str(uuid.uuid4()), "date": (jakarta_today() + timedelta(days=1)).isoformat()}
    try:
        async with gateway_client(addresses, rpc_timeout_s=2, booking_timeout_s=10) as (_, client):
            booked = await client.post("/v1/bookings", headers=headers, json=body)
            listed = await client.get("/v1/bookings", headers=headers)
    finally:
        await server.stop(None)
    assert booked.status_code == 404 and listed.status_code == 404  # the refusals came through
    assert 8 < recorder.deadlines["CreateBooking"] <= 10
    assert recorder.deadlines["ListBookings"] < 3  # the default (2 s; clocks differ by a little)
