"""A request body over 1 MiB is 413 PAYLOAD_TOO_LARGE, a problem body and never a dropped
connection (CONTRACT.md §2): by Content-Length before the route runs, and counted while a chunked
body streams — in-process and through a real uvicorn socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from services.devstack.infra import free_port
from services.gateway.app import create_app
from services.gateway.settings import MAX_BODY_BYTES, GatewaySettings

PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}


async def chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """A body without Content-Length (httpx sends it chunked)."""
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        sent += part
        yield b" " * part


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert (body["code"], body["status"], body["max_bytes"]) == ("PAYLOAD_TOO_LARGE", 413, MAX_BODY_BYTES)
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_content_length_over_1_mib_is_refused_before_the_route_runs(gateway_client):
    async with gateway_client({}) as (app, client):
        ran = []

        @app.post("/probe-body")
        async def probe() -> dict:
            ran.append(True)
            return {}

        too_large = await client.post("/probe-body", content=b"x" * (MAX_BODY_BYTES + 1))
        english = await client.post("/v1/sessions", content=b"x" * (MAX_BODY_BYTES + 1),
                                    headers={**JSON, "Accept-Language": "en"})
        at_the_cap = await client.post("/probe-body", content=b"x" * MAX_BODY_BYTES)
    assert_too_large(too_large)
    assert english.json()["title"] == "Request body too large"
    assert at_the_cap.status_code == 200 and ran == [True]  # exactly 1 MiB is allowed; the refused one never ran


async def test_a_chunked_body_is_counted_while_it_streams(gateway_client):
    async with gateway_client({}) as (_, client):
        json_body = await client.post("/v1/sessions", content=chunks(2 * MAX_BODY_BYTES), headers=JSON)
        raw_body = await client.post("/v1/payment-callbacks", content=chunks(MAX_BODY_BYTES + 1),
                                     headers={"X-Signature": "00" * 32})
        small = await client.post("/v1/sessions", content=chunks(10), headers=JSON)
    assert_too_large(json_body)  # FastAPI's body parsing
    assert_too_large(raw_body)  # a route reading request.body() itself
    assert small.status_code == 422 and small.json()["code"] == "VALIDATION_ERROR"  # passed the cap


async def test_a_body_that_is_not_utf8_json_is_a_422_naming_the_body(gateway_client):
    async with gateway_client({}) as (_, client):
        refused = await client.post("/v1/sessions", content=b"\xa5", headers=JSON)
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    body = refused.json()
    assert body["code"] == "VALIDATION_ERROR" and body["errors"][0]["field"] == "body"


@pytest.fixture
async def served_gateway(redis_url) -> AsyncIterator[str]:
    """The gateway behind a real uvicorn socket (services away: the cap needs none)."""
    dead = f"127.0.0.1:{free_port()}"
    settings = GatewaySettings(env="test", redis_url=redis_url, auth_addr=dead, notify_addr=dead,
                               membership_addr=dead, queue_addr=dead)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, proxy_headers=False, lifespan="on"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


async def test_over_a_real_socket_the_client_reads_the_413_problem(served_gateway):
    async with httpx.AsyncClient(base_url=served_gateway, timeout=10) as client:
        declared = await client.post("/v1/sessions", content=b"x" * (3 * MAX_BODY_BYTES), headers=JSON)
        streamed = await client.post("/v1/sessions", content=chunks(3 * MAX_BODY_BYTES), headers=JSON)
        after = await client.get("/healthz")  # the connection (or a new one) still serves
    assert_too_large(declared)
    assert_too_large(streamed)
    assert after.status_code == 200


async def test_a_client_that_expects_100_continue_is_answered_at_once(served_gateway):
    host, port = served_gateway.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(f"POST /v1/sessions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {50 * MAX_BODY_BYTES}\r\nExpect: 100-continue\r\n\r\n".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)  # no body was sent, none is waited for
        status_line, *header_lines = head.decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in header_lines if line)
        body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 5)
    finally:
        writer.close()
    assert status_line.startswith("HTTP/1.1 413")
    assert headers["content-type"] == PROBLEM and headers["connection"] == "close"
    assert json.loads(body)["code"] == "PAYLOAD_TOO_LARGE"
