"""/openapi.json tells the truth about errors (CONTRACT.md §7): every route documents each problem
status it can answer with the application/problem+json schema, and the gateway's actual error
answers are application/problem+json too."""

from __future__ import annotations

import pytest

from services.gateway.app import create_app
from services.gateway.responses import ROUTE_CODES, api_routes, key
from services.gateway.settings import GatewaySettings
from services.kit.errors import CODES

PROBLEM = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
#: A route's own, non-problem description of a status.
OWN_BODIES = {("GET", "/readyz", "503")}


@pytest.fixture
async def document(gateway_client) -> dict:
    async with gateway_client({}) as (_, client):
        return (await client.get("/openapi.json")).json()


def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def test_every_route_is_in_the_table_of_refusals_and_the_table_names_only_routes():
    app = create_app(GatewaySettings(env="test"))
    served = {key(m, route.path_format) for route in api_routes(app.routes) if route.include_in_schema
              for m in route.methods}
    assert served - ROUTE_CODES.keys() == set()  # a new route says what its RPCs can refuse
    assert ROUTE_CODES.keys() - served == set()  # and the table has no stale entries
    assert {code for codes in ROUTE_CODES.values() for code in codes} <= CODES.keys()


async def test_every_documented_error_status_is_a_problem_with_an_example_per_code(document):
    checked = 0
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400 or (method, path, status) in OWN_BODIES:
                continue
            checked += 1
            content = response["content"]
            assert list(content) == [PROBLEM], (method, path, status)
            assert content[PROBLEM]["schema"] == PROBLEM_REF
            examples = content[PROBLEM]["examples"]
            assert examples and all(e["value"]["status"] == int(status) and e["value"]["code"] in CODES
                                    for e in examples.values()), (method, path, status)
            if status in ("423", "429", "503"):
                assert "Retry-After" in response["headers"], (method, path, status)
    assert checked > 150


async def test_every_route_lists_its_problems(document):
    routes = list(operations(document))
    assert len(routes) >= 35
    for method, path, operation in routes:
        statuses = set(operation["responses"])
        assert {"413", "500"} <= statuses, (method, path)
        if operation.get("security"):  # a bearer token
            assert "UNAUTHENTICATED" in operation["responses"]["401"]["content"][PROBLEM]["examples"]
        if operation.get("parameters") or operation.get("requestBody"):
            assert "VALIDATION_ERROR" in operation["responses"]["422"]["content"][PROBLEM]["examples"]
        if path not in ("/healthz", "/readyz"):
            assert "503" in statuses, (method, path)


async def test_routes_document_the_refusals_their_services_give(document):
    def codes(method: str, path: str, status: str) -> set[str]:
        response = document["paths"][path][method]["responses"][status]
        return set(response["content"][PROBLEM]["examples"])

    assert codes("post", "/v1/registrations", "409") == {"ALREADY_REGISTERED", "EMAIL_IN_USE"}
    assert {"IDENTITY_MISMATCH", "WEAK_PASSWORD", "CAPTCHA_REQUIRED", "VALIDATION_ERROR"} <= codes(
        "post", "/v1/registrations", "422")
    assert codes("post", "/v1/registrations/{registration_id}/verify", "410") == {"OTP_EXPIRED"}
    assert codes("post", "/v1/sessions", "423") == {"ACCOUNT_LOCKED"}
    assert codes("post", "/v1/sessions", "401") == {"INVALID_CREDENTIALS"}
    assert codes("post", "/v1/password-resets", "429") == {"RATE_LIMITED"}
    assert codes("post", "/v1/enrollments", "422") >= {"CAPTCHA_REQUIRED", "FACILITY_INVALID"}
    assert codes("post", "/v1/bookings", "409") == {"QUOTA_FULL", "DUPLICATE_BOOKING"}
    assert codes("post", "/v1/bookings", "403") == {"PARTICIPANT_INACTIVE"}
    assert codes("put", "/v1/me/fktp", "409") == {"FKTP_CHANGE_TOO_SOON"}
    assert codes("put", "/v1/me/pin", "401") == {"UNAUTHENTICATED", "INVALID_CREDENTIALS"}


async def test_fastapis_own_validation_schema_is_replaced_by_the_problem(document):
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    problem = schemas["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    assert {"errors", "retry_after", "attempts_left", "reasons"} <= set(problem["properties"])
    assert set(problem["properties"]["code"]["enum"]) == set(CODES)
    assert schemas["FieldError"]["required"] == ["field", "code", "message"]


async def test_the_readiness_503_keeps_its_own_body(document):
    response = document["paths"]["/readyz"]["get"]["responses"]["503"]
    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Readiness"}


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), [
    ("GET", "/nothing/here", {}, 404),
    ("DELETE", "/v1/facilities", {}, 405),
    ("POST", "/v1/sessions", {"content": b"x" * (2 * 1024 * 1024)}, 413),
    ("POST", "/v1/sessions", {"json": {"identifier": ""}}, 422),
    ("GET", "/v1/bookings", {"headers": {"Authorization": "Bearer nonsense"}}, 401),
])
async def test_actual_error_answers_are_application_problem_json(gateway_client, method, path, kwargs, status):
    async with gateway_client({}) as (_, client):
        response = await client.request(method, path, **kwargs)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body) and body["status"] == status


async def test_the_document_made_again_for_a_new_route_still_lists_the_problems(gateway_client):
    async with gateway_client({}) as (app, client):
        before = (await client.get("/openapi.json")).json()

        @app.get("/probe-later")
        async def probe() -> dict:
            return {}

        after = (await client.get("/openapi.json")).json()
    assert "/probe-later" not in before["paths"]
    assert set(after["paths"]["/probe-later"]["get"]["responses"]) == {"200", "413", "500", "503"}
    assert after["paths"]["/v1/sessions"]["post"]["responses"] == before["paths"]["/v1/sessions"]["post"]["responses"]
