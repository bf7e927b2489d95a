"""``POST /v1/bookings`` is a lean route (`lean.LeanRoute`): it answers every request exactly as
FastAPI's own handler of the same endpoint does. The gateway is built twice in front of real auth,
membership and queue with the demo data: as it is, and with FastAPI's route for the same endpoint
in front of the lean one; a table of requests (good and bad bodies, headers and tokens) gets the
same status, headers and bytes from both, and the per-account booking limit counts the same."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Cookie, FastAPI, Header, Response
from fastapi.routing import APIRoute

from services.auth.app import build as build_auth
from services.auth.settings import AuthSettings
from services.gateway.deps import CurrentPrincipal
from services.gateway.lean import LeanRoute, is_json
from services.gateway.routes import bookings
from services.kit.clock import jakarta_today
from services.kit.signing import load_signing_keys
from services.membership.app import build as build_membership
from services.membership.settings import MembershipSettings
from services.queue.app import build as build_queue
from services.queue.settings import QueueSettings
from tests.factories import DEWI, RUDI, SRI, access_token

KEY = load_signing_keys("dev-jwt-signing-key")[0]
#: Headers that differ between any two answers (the moment, the request's own ids).
VARYING = {"date", "x-request-id", "traceparent", "server-timing"}


@pytest.fixture
async def addresses(service):
    today = jakarta_today()
    async with (service(AuthSettings, build_auth) as auth,
                service(MembershipSettings, build_membership, seed_demo_data=True, demo_today=today) as membership,
                service(QueueSettings, build_queue, seed_demo_data=True, demo_today=today,
                        membership_addr=membership.address) as queue):
        yield {"auth": auth.address, "queue": queue.address, "membership": membership.address}


def _lean_route() -> APIRoute:
    (route,) = [r for r in bookings.router.routes
                if isinstance(r, APIRoute) and r.path == "/v1/bookings" and "POST" in r.methods]
    return route


def _put_fastapi_route_first(app: FastAPI) -> None:
    """FastAPI's own route for the lean route's endpoint, matched before the lean one."""
    lean = _lean_route()
    router = APIRouter()
    router.add_api_route(lean.path, lean.endpoint, methods=["POST"], status_code=lean.status_code,
                         dependencies=lean.dependencies, summary=lean.summary)
    assert type(router.routes[0]) is APIRoute
    app.include_router(router)
    app.router.routes.insert(0, app.router.routes.pop())


@pytest.fixture
async def twins(addresses, gateway_client) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """(the gateway as it is, the gateway with FastAPI's route), a booking limit of 4 a minute."""
    async with (gateway_client(addresses, booking_rate_per_min=4, max_body_bytes=4096) as (_, lean),
                gateway_client(addresses, booking_rate_per_min=4, max_body_bytes=4096) as (plain_app, plain)):
        _put_fastapi_route_first(plain_app)
        yield lean, plain


def bearer(noka: str | None = DEWI.noka) -> dict[str, str]:
    """A new account's token each time (its own booking limit)."""
    return {"Authorization": f"Bearer {access_token(KEY, account_id=str(uuid.uuid4()), noka=noka)}"}


def answer(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k not in VARYING}
    return response.status_code, headers, response.content


async def same_answer(lean: httpx.AsyncClient, plain: httpx.AsyncClient, **request) -> httpx.Response:
    """The request to both gateways (a new token each, unless given): their answers, the same."""
    fresh = "headers" not in request or "Authorization" not in request["headers"]
    sent = [dict(request, headers={**bearer(), **request.get("headers", {})}) if fresh else request
            for _ in range(2)]
    lean_answer = await lean.post("/v1/bookings", **sent[0])
    plain_answer = await plain.post("/v1/bookings", **sent[1])
    assert answer(lean_answer) == answer(plain_answer)
    return lean_answer


def _session_body(day, schedule_id: str | None = None) -> dict[str, str]:
    return {"schedule_id": schedule_id or str(uuid.uuid4()), "date": day.isoformat()}


async def test_every_refusal_is_fastapis_own(twins):
    lean, plain = twins
    day = jakarta_today() + timedelta(days=1)
    good = _session_body(day)  # no such session: queue's 404, through the fast path
    raw = json.dumps(good)
    cases: list[tuple[dict, int]] = [
        ({"json": good}, 404),
        ({"json": {**good, "colour": "red"}}, 404),  # an unknown field is ignored
        ({"content": raw, "headers": {"Content-Type": "application/json; charset=utf-8"}}, 404),
        ({"content": raw, "headers": {"Content-Type": "application/vnd.jkn+json"}}, 404),
        ({"content": raw.encode("utf-16"), "headers": {"Content-Type": "application/json"}}, 404),
        ({"json": good, "headers": {"Idempotency-Key": "k" * 128}}, 404),
        ({"content": raw[:-3], "headers": {"Content-Type": "application/json"}}, 422),  # bad JSON
        ({"content": b"\xff" + raw.encode(), "headers": {"Content-Type": "application/json"}}, 422),  # not UTF-8
        ({"json": {**good, "schedule_id": 5}}, 422),  # a wrong type
        ({"json": {**good, "date": "31-12-2026"}}, 422),
        ({"json": {"date": good["date"]}}, 422),  # a missing field
        ({"json": {**good, "noka": "123"}}, 422),
        ({"json": [good]}, 422),
        ({"json": None}, 422),
        ({"json": good, "headers": {"Idempotency-Key": "k" * 129}}, 422),  # too long
        ({"json": good, "headers": {"Idempotency-Key": ""}}, 422),
        ({"content": raw, "headers": {"Content-Type": "text/plain"}}, 422),
        ({"content": raw, "headers": {"Content-Type": ""}}, 422),
        ({"content": raw}, 422),  # no content type
        ({"content": b"", "headers": {"Content-Type": "application/json"}}, 422),  # empty
        ({"content": raw, "headers": {"Content-Type": "application/json", "Accept-Language": "en"}}, 404),
        ({"json": good, "headers": {"Authorization": ""}}, 401),  # no token
        ({"json": {"date": 1}, "headers": {"Authorization": ""}}, 401),  # no token comes before a bad body
        ({"json": good, "headers": {"Authorization": "Bearer not-a-token"}}, 401),
        ({"json": good, "headers": {"Authorization": f"Basic {bearer()['Authorization'][7:]}"}}, 401),
        ({"json": {**good, "x": "y" * 5000}}, 413),  # over the body cap (4096 here)
    ]
    for request, status in cases:
        response = await same_answer(lean, plain, **request)
        assert response.status_code == status, (request, response.text)
    # the body cap when the body comes in chunks (no Content-Length): the route's read of it fails
    for client in (lean, plain):
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b" " * 1000
        refused = await client.post("/v1/bookings", content=chunks(),
                                    headers={**bearer(), "Content-Type": "application/json"})
        assert refused.status_code == 413 and refused.json()["code"] == "PAYLOAD_TOO_LARGE"


async def test_a_booking_and_its_replay_are_the_same_bytes_either_way(twins):
    """The same Idempotency-Key: the first answer again, through the other route."""
    lean, plain = twins
    day = jakarta_today() + timedelta(days=1)
    schedules = (await lean.get("/v1/facilities/0114U001/schedules",
                                params={"date": day.isoformat(), "poli": "001"})).json()["items"]
    session = _session_body(day, schedules[0]["schedule_id"])
    for noka, first, then in ((DEWI.noka, lean, plain), (RUDI.noka, plain, lean)):
        headers = {**bearer(noka), "Idempotency-Key": uuid.uuid4().hex}
        booked = await first.post("/v1/bookings", json=session, headers=headers)
        replayed = await then.post("/v1/bookings", json=session, headers=headers)
        assert booked.status_code == 201, booked.text
        assert answer(booked) == answer(replayed)
        assert booked.headers["content-type"] == "application/json" and booked.json()["noka"] == noka
    # for a family member, by the family head's token: the noka in the body
    family = await same_answer(lean, plain, json={**session, "noka": "0000000000000"},
                               headers={**bearer(DEWI.noka), "Idempotency-Key": "x"})
    assert family.status_code >= 400


async def test_the_booking_limit_counts_every_attempt_the_same(twins):
    """4 a minute per account: bad bodies count too (the limit is solved before the body, as
    FastAPI does), and the fifth attempt is 429 with Retry-After on both routes."""
    lean, plain = twins
    if 60 - time.time() % 60 < 5:  # all five in one window
        await asyncio.sleep(60 - time.time() % 60 + 0.1)
    day = jakarta_today() + timedelta(days=1)
    bodies = [{"date": "nope"}, _session_body(day), {"schedule_id": 1}, _session_body(day), _session_body(day)]
    outcomes = []
    for client in (lean, plain):
        token = bearer(SRI.noka)
        outcomes.append([await client.post("/v1/bookings", json=body, headers=token) for body in bodies])
    for lean_answer, plain_answer in zip(*outcomes, strict=True):
        assert answer(lean_answer)[0] == answer(plain_answer)[0]
        if lean_answer.status_code != 429:
            assert answer(lean_answer) == answer(plain_answer)
    assert [r.status_code for r in outcomes[0]] == [422, 404, 422, 404, 429]
    for limited in (outcomes[0][-1], outcomes[1][-1]):
        assert limited.json()["code"] == "RATE_LIMITED" and 1 <= int(limited.headers["retry-after"]) <= 60


def test_the_route_is_lean_and_fastapi_reads_the_same_content_types_as_json():
    assert isinstance(_lean_route(), LeanRoute)
    for content_type, json_ in (("application/json", True), ("Application/JSON; charset=utf-8", True),
                                ("application/problem+json", True), ("application/jsonx", False),
                                ("text/json", False), ("application/json, text/plain", False)):
        assert is_json(content_type) is json_, content_type


async def _takes_code(code: str, principal: CurrentPrincipal) -> dict[str, str]:
    return {"code": code}


async def _takes_query(q: int, principal: CurrentPrincipal) -> dict[str, str]:
    return {}


async def _takes_cookie(principal: CurrentPrincipal, name: Annotated[str, Cookie()]) -> dict[str, str]:
    return {}


async def _takes_two_bodies(a: bookings.CancelRequest, b: bookings.CancelRequest) -> dict[str, str]:
    return {}


async def _takes_nothing_known(x: str = Header(), y: bookings.CancelRequest = None) -> dict:  # type: ignore[assignment]
    return {}


async def _returns_anything(principal: CurrentPrincipal):  # type: ignore[no-untyped-def]
    return {}


def _not_async(principal: CurrentPrincipal) -> dict[str, str]:
    return {}


async def _takes_the_response(response: Response, principal: CurrentPrincipal) -> dict[str, str]:
    return {}


@pytest.mark.parametrize("path,endpoint", [
    ("/x/{code}", _takes_code), ("/x", _takes_query), ("/x", _takes_cookie), ("/x", _takes_two_bodies),
    ("/x", _returns_anything), ("/x", _not_async), ("/x", _takes_the_response)])
def test_what_a_lean_route_cannot_serve_is_refused_when_it_is_built(path, endpoint):
    with pytest.raises(TypeError):
        APIRouter().add_api_route(path, endpoint, methods=["POST"], route_class_override=LeanRoute)


def test_a_lean_route_takes_headers_and_one_body():
    router = APIRouter()
    router.add_api_route("/x", _takes_nothing_known, methods=["POST"], response_model=dict,
                         route_class_override=LeanRoute)
    assert isinstance(router.routes[0], LeanRoute)
