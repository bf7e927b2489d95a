"""The gateway skeleton: health, readiness, metrics, OpenAPI, problems, request ids, dev outbox, bearer tokens."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import httpx
import jwt
import pytest
from prometheus_client import REGISTRY

from services.gateway.deps import CallerNoka, CurrentPrincipal
from services.kit.clock import jakarta_today
from services.kit.signing import load_signing_keys
from tests.factories import access_token

PROBLEM = "application/problem+json"


def addresses(platform) -> dict[str, str]:
    return {name: running.address for name, running in platform.items()}


async def test_healthz_answers_without_any_service(gateway_client):
    async with gateway_client({}) as (_, client):
        response = await client.get("/healthz")
    assert response.status_code == 200


async def test_readyz_is_200_only_when_every_service_serves(platform, gateway_client):
    async with gateway_client(addresses(platform)) as (_, client):
        ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {name: "SERVING" for name in platform}

    partial = {k: v for k, v in addresses(platform).items() if k != "queue"}
    async with gateway_client(partial, readiness_timeout_s=0.5) as (_, client):
        not_ready = await client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"]["queue"] == "UNAVAILABLE"
    assert not_ready.json()["checks"]["auth"] == "SERVING"


async def test_dev_outbox_is_backed_by_notify(platform, gateway_client):
    async with gateway_client(addresses(platform)) as (_, client):
        response = await client.get("/dev/outbox", params={"to": "x"})
    assert response.status_code == 200
    assert response.json() == {"items": []}


async def test_dev_outbox_is_404_in_prod(gateway_client):
    async with gateway_client({}, env="prod") as (_, client):
        response = await client.get("/dev/outbox", params={"to": "x"})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "NOT_FOUND"


async def test_unknown_route_is_a_problem_in_indonesian_by_default_and_english_on_request(gateway_client):
    async with gateway_client({}) as (_, client):
        indonesian = await client.get("/v1/nothing-here")
        english = await client.get("/v1/nothing-here", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert indonesian.headers["content-type"] == PROBLEM
    body = indonesian.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert (body["status"], body["code"], body["title"]) == (404, "NOT_FOUND", "Data tidak ditemukan")
    assert english.json()["title"] == "Not found"


async def test_invalid_query_is_422_validation_error_with_fields(gateway_client):
    async with gateway_client({}) as (_, client):
        response = await client.get("/dev/outbox", params={"limit": "0"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["errors"][0]["field"] == "limit"
    assert {"field", "code", "message"} == set(body["errors"][0])


async def test_dead_service_is_a_clear_503_with_retry_after(gateway_client):
    async with gateway_client({}) as (_, client):  # notify's address points at nothing
        started = time.monotonic()
        response = await client.get("/dev/outbox")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json()["code"] == "DEPENDENCY_UNAVAILABLE"
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["retry_after"] >= 1


async def test_request_id_is_kept_or_made_and_returned(gateway_client):
    async with gateway_client({}) as (_, client):
        given = await client.get("/healthz", headers={"X-Request-ID": "abc-12345678"})
        made = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert given.headers["x-request-id"] == "abc-12345678"
    assert made.headers["x-request-id"] != "bad id with spaces" and len(made.headers["x-request-id"]) == 32


async def test_routes_are_counted_and_timed_by_template(gateway_client):
    labels = {"method": "GET", "route": "/dev/outbox", "status": "503"}
    before = REGISTRY.get_sample_value("http_requests_total", labels) or 0
    async with gateway_client({}) as (_, client):
        await client.get("/dev/outbox", params={"to": "+6281234500006"})
        metrics = await client.get("/metrics")
    assert REGISTRY.get_sample_value("http_requests_total", labels) == before + 1
    assert "http_request_duration_seconds_bucket" in metrics.text
    assert "+6281234500006" not in metrics.text


async def test_openapi_document_is_served(gateway_client):
    async with gateway_client({}) as (_, client):
        document = (await client.get("/openapi.json")).json()
    assert document["info"]["title"] == "JKN Mobile API"
    assert "/readyz" in document["paths"] and "/dev/outbox" in document["paths"]


@pytest.fixture
def signing_key():
    return load_signing_keys("dev-jwt-signing-key")[0]  # the auth service's dev default


def token(key, **claims) -> str:
    """An access token as auth signs it (`factories.access_token`); a claim given as None is left out."""
    return access_token(key, **claims)


async def test_bearer_dependency_verifies_tokens_locally_with_auths_jwks(platform, gateway_client, signing_key):
    async with gateway_client(addresses(platform)) as (app, client):
        @app.get("/probe")
        async def probe(principal: CurrentPrincipal) -> dict:
            return {"account_id": principal.account_id, "session_id": principal.session_id}

        async def call(value: str | None):
            headers = {"Authorization": f"Bearer {value}"} if value is not None else {}
            return await client.get("/probe", headers=headers)

        good = await call(token(signing_key))
        assert good.status_code == 200 and good.json() == {"account_id": "acc-1", "session_id": "ses-1"}
        rejected = [
            await call(None),
            await call("not-a-jwt"),
            await call(token(signing_key, exp=int(time.time()) - 5)),
            await call(token(signing_key, sid=None)),
            await call(token(signing_key)[:-4] + "AAAA"),
            await call(token(load_signing_keys("dev-some-other-key")[0])),
        ]
    for response in rejected:
        assert response.status_code == 401
        assert response.json()["code"] == "UNAUTHENTICATED"
        assert response.headers["www-authenticate"] == "Bearer"


async def test_redis_down_at_the_edge_is_a_503_not_a_500(platform, gateway_client, signing_key):
    from services.devstack.infra import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    async with gateway_client(addresses(platform), redis_url=dead) as (app, _):
        # The app itself must not raise past its answer (the server would log a stack trace).
        strict = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=True),
                                   base_url="http://gateway")
        async with strict:
            response = await strict.get("/v1/me", headers={"Authorization": f"Bearer {token(signing_key)}"})
    assert response.status_code == 503 and response.json()["code"] == "DEPENDENCY_UNAVAILABLE"
    assert "Retry-After" in response.headers


async def test_key_rotation_logs_nobody_out(service, gateway_client):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from pydantic import SecretStr

    from services.auth.app import build as build_auth
    from services.auth.settings import AuthSettings

    def pem() -> str:
        return Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()

    old_pem, new_pem = pem(), pem()
    old_key, new_key = load_signing_keys(old_pem)[0], load_signing_keys(new_pem)[0]
    async with service(AuthSettings, build_auth, seed_demo_data=True,
                       jwt_private_keys=SecretStr(new_pem + old_pem)) as auth, \
            gateway_client({"auth": auth.address}) as (app, client):
        @app.get("/probe")
        async def probe(principal: CurrentPrincipal) -> dict:
            return {"account_id": principal.account_id}

        before_rotation = await client.get("/probe", headers={"Authorization": f"Bearer {token(old_key)}"})
        after_rotation = await client.get("/probe", headers={"Authorization": f"Bearer {token(new_key)}"})
        login = await client.post("/v1/sessions", json={"identifier": "0004567890006", "password": "Sehat#2026"})
    assert before_rotation.status_code == 200 and after_rotation.status_code == 200
    assert jwt.get_unverified_header(login.json()["access_token"])["kid"] == new_key.kid


async def test_every_request_body_in_openapi_comes_with_examples(gateway_client):
    async with gateway_client({}) as (_, client):
        document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    bodies = [op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
              for path in document["paths"].values() for op in path.values()
              if "requestBody" in op and "$ref" in op["requestBody"]["content"].get("application/json", {})
              .get("schema", {})]
    assert len(bodies) >= 12
    missing = [name for name in bodies
               if not any("examples" in prop for prop in schemas[name].get("properties", {}).values())]
    assert missing == []


async def test_every_answer_with_a_body_has_a_named_schema_in_openapi(gateway_client):
    async with gateway_client({}) as (_, client):
        document = (await client.get("/openapi.json")).json()
    answers = {(method.upper(), path, status): response for path, operations in document["paths"].items()
               for method, operation in operations.items() for status, response in operation["responses"].items()
               if status.startswith("2") and status != "204"}
    assert len(answers) >= 25
    unnamed = [answer for answer, response in answers.items()
               if "$ref" not in response.get("content", {}).get("application/json", {}).get("schema", {})]
    assert unnamed == []



async def test_the_card_number_in_the_token_spares_the_call_to_auth(platform, gateway_client, signing_key):
    def get_account_calls() -> float:
        return sum(REGISTRY.get_sample_value("grpc_server_handled_total", {
            "grpc_service": "jkn.auth.v1.AuthService", "grpc_method": "GetAccount", "grpc_code": code}) or 0.0
            for code in ("OK", "NOT_FOUND"))

    async with gateway_client(addresses(platform)) as (app, client):
        @app.get("/probe-noka")
        async def probe(noka: CallerNoka) -> dict:
            return {"noka": noka}

        before = get_account_calls()
        carried = await client.get("/probe-noka", headers={
            "Authorization": f"Bearer {token(signing_key, sub=str(uuid.uuid4()), noka='0004567890006')}"})
        assert carried.json() == {"noka": "0004567890006"} and get_account_calls() == before
        older = await client.get("/probe-noka", headers={  # a token from before the claim: auth is asked
            "Authorization": f"Bearer {token(signing_key, sub=str(uuid.uuid4()))}"})
        assert older.status_code == 404 and get_account_calls() == before + 1


async def test_one_account_may_book_only_so_often_a_minute(platform, gateway_client, signing_key):
    account = str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {token(signing_key, sub=account, noka='0004567890006')}"}
    body = {"schedule_id": str(uuid.uuid4()), "date": (jakarta_today() + timedelta(days=1)).isoformat()}
    async with gateway_client(addresses(platform), booking_rate_per_min=2) as (_, client):
        answers = [await client.post("/v1/bookings", headers=headers, json=body) for _ in range(3)]
        other = await client.post("/v1/bookings", json=body, headers={
            "Authorization": f"Bearer {token(signing_key, sub=str(uuid.uuid4()), noka='0005678900007')}"})
    assert [a.status_code for a in answers] == [404, 404, 429]  # no such schedule, twice; then the limit
    assert answers[2].json()["code"] == "RATE_LIMITED" and int(answers[2].headers["Retry-After"]) > 0
    assert other.status_code == 404  # another account has its own allowance
