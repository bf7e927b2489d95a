"""What every route can answer besides its success, in ``/openapi.json`` (CONTRACT.md §7 "Errors
across services": every route's possible statuses, with the ``application/problem+json`` schema).

One table, `ROUTE_CODES`, names the codes each route's RPCs can refuse with (the services' rules:
auth's, membership's, queue's, and notify's refusals that they pass on). What a route's shape
decides is added from the route itself, so it cannot drift:
- a bearer token (`deps.CurrentPrincipal` or `deps.CallerNoka`) → 401 ``UNAUTHENTICATED``;
- any parameter or body → 422 ``VALIDATION_ERROR`` (FastAPI's own 422 schema is replaced);
- the per-IP or per-account limits (`deps.AccountRateLimit`, `deps.BookingRateLimit`) → 429 ``RATE_LIMITED``;
- every route: 413 ``PAYLOAD_TOO_LARGE`` (the edge's body cap applies to any request) and 500;
  every route that reaches a service or Redis: 503 ``DEPENDENCY_UNAVAILABLE``.

Each status is documented once, with the codes it stands for, an example per code, and
``Retry-After`` (423, 429, 503) or ``WWW-Authenticate`` (401) headers. `document` applies it to
the document FastAPI generates (`app.Gateway.openapi`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from starlette.routing import BaseRoute

from services.gateway import deps
from services.gateway.problems import PROBLEM_JSON
from services.kit.errors import CODES


class FieldError(BaseModel):
    """One invalid input of a 422 ``VALIDATION_ERROR``."""

    field: str = Field(description="dotted path of the input, e.g. `members.0.nik`", examples=["phone"])
    code: str = Field(description="machine-readable reason", examples=["string_too_short"])
    message: str = Field(examples=["String should have at least 8 characters"])


class Problem(BaseModel):
    """An RFC 9457 problem (CONTRACT.md §2): `title` and `detail` follow `Accept-Language`
    (`id` by default, `en`); `code` is the machine-readable reason. Members beyond the five
    appear with the codes that carry them."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    type: str = Field(description="`urn:jkn:problem:<code in kebab case>`", examples=["urn:jkn:problem:otp-invalid"])
    title: str = Field(examples=["Kode OTP salah"])
    status: int = Field(description="the HTTP status", examples=[422])
    detail: str = Field(examples=["Kode OTP salah"])
    code: str = Field(json_schema_extra={"enum": list[JsonValue](sorted(CODES))}, examples=["OTP_INVALID"])
    instance: str | None = Field(None, description="the request's path", examples=["/v1/registrations/…/verify"])
    errors: list[FieldError] | None = Field(None, description="VALIDATION_ERROR: every invalid input")
    retry_after: int | None = Field(None, description="seconds; with every 423, 429 and 503 (also `Retry-After`)")
    attempts_left: int | None = Field(None, description="OTP_INVALID, PIN_INVALID: wrong tries left")
    reasons: list[str] | None = Field(None, description="WEAK_PASSWORD, WEAK_PIN: the rules broken",
                                      examples=[["LENGTH", "NO_DIGIT"]])
    rule: str | None = Field(None, description="OTP_SEND_LIMIT, OTP_RESEND_TOO_SOON: which limit",
                             examples=["destination_10m"])
    next_allowed_date: str | None = Field(None, description="FKTP_CHANGE_TOO_SOON: YYYY-MM-DD")
    valid_until: str | None = Field(None, description="REFERRAL_INVALID (expired): YYYY-MM-DD")
    max_bytes: int | None = Field(None, description="PAYLOAD_TOO_LARGE: the largest body accepted")


# -- the codes each route's RPCs can refuse with ------------------------------------------------

OTP_CHECK = ("OTP_INVALID", "OTP_EXPIRED", "OTP_ATTEMPTS_EXCEEDED")
OTP_SEND = ("DESTINATION_NOT_ALLOWED", "OTP_SEND_LIMIT")
CAPTCHA = ("CAPTCHA_REQUIRED", "CAPTCHA_INVALID")

#: ``"METHOD /path"`` → the refusals of the services it calls (401/422/429/413/503/500 as above).
ROUTE_CODES: dict[str, tuple[str, ...]] = {
    # accounts (auth; membership matches the identity; notify sends the code)
    "GET /v1/captcha": (),
    "POST /v1/registrations": (*CAPTCHA, "IDENTITY_MISMATCH", "ALREADY_REGISTERED", "EMAIL_IN_USE", "WEAK_PASSWORD",
                               *OTP_SEND),
    "GET /v1/registrations/{registration_id}": ("NOT_FOUND",),
    "POST /v1/registrations/{registration_id}/otp/resend": ("NOT_FOUND", "OTP_RESEND_TOO_SOON", "OTP_SEND_LIMIT",
                                                            "OTP_EXPIRED", "OTP_ATTEMPTS_EXCEEDED",
                                                            "DESTINATION_NOT_ALLOWED"),
    "POST /v1/registrations/{registration_id}/verify": ("NOT_FOUND", *OTP_CHECK, "ALREADY_REGISTERED"),
    "POST /v1/sessions": (*CAPTCHA, "INVALID_CREDENTIALS", "ACCOUNT_LOCKED"),
    "POST /v1/sessions/refresh": ("UNAUTHENTICATED",),
    "DELETE /v1/sessions/current": (),
    "POST /v1/password-resets": CAPTCHA,
    "POST /v1/password-resets/{reset_id}/complete": ("NOT_FOUND", *OTP_CHECK, "WEAK_PASSWORD"),
    "POST /v1/password-resets/{reset_id}/otp/resend": ("NOT_FOUND",),
    # account recovery (auth; notify sends the codes)
    "POST /v1/account-recoveries": CAPTCHA,
    "POST /v1/account-recoveries/{recovery_id}/verify-email": ("NOT_FOUND", *OTP_CHECK, *OTP_SEND,
                                                               "OTP_RESEND_TOO_SOON"),
    "POST /v1/account-recoveries/{recovery_id}/verify-phone": ("NOT_FOUND", *OTP_CHECK, "RECOVERY_PENDING"),
    "GET /v1/me/account-recoveries": (),
    "POST /v1/me/account-recoveries/{recovery_id}/cancel": ("NOT_FOUND",),
    # enrolment (membership; queue checks the FKTP; notify sends the code)
    "POST /v1/enrollments": (*CAPTCHA, "ALREADY_REGISTERED", "FACILITY_INVALID", *OTP_SEND),
    "POST /v1/enrollments/{enrollment_id}/verify": ("NOT_FOUND", *OTP_CHECK, "ALREADY_REGISTERED"),
    # the participant (auth, membership)
    "GET /v1/me": ("NOT_FOUND",),
    "GET /v1/me/membership": ("NOT_FOUND",),
    "GET /v1/me/card": ("NOT_FOUND",),
    "GET /v1/me/bills": ("NOT_FOUND",),
    "POST /v1/me/payments": ("NOT_FOUND",),
    "PUT /v1/me/fktp": ("NOT_FOUND", "FKTP_CHANGE_TOO_SOON", "FACILITY_INVALID"),
    "PUT /v1/me/pin": ("NOT_FOUND", "INVALID_CREDENTIALS", "ACCOUNT_LOCKED", "WEAK_PIN"),
    "POST /v1/me/email/verify": ("NOT_FOUND", *OTP_CHECK),
    "POST /v1/me/email/resend": ("NOT_FOUND", "OTP_RESEND_TOO_SOON", *OTP_SEND),
    "POST /v1/me/email-changes": ("NOT_FOUND", "PIN_INVALID", "PIN_LOCKED", "ALREADY_REGISTERED", "EMAIL_IN_USE",
                                  *OTP_SEND),
    "POST /v1/me/email-changes/{change_id}/verify": ("NOT_FOUND", *OTP_CHECK),
    "POST /v1/me/phone-changes": ("NOT_FOUND", "PIN_INVALID", "PIN_LOCKED", "ALREADY_REGISTERED", *OTP_SEND),
    "POST /v1/me/phone-changes/{change_id}/verify": ("NOT_FOUND", *OTP_CHECK),
    "GET /v1/me/sessions": (),
    "DELETE /v1/me/sessions/{session_id}": ("NOT_FOUND",),
    # public (queue, membership)
    "GET /v1/facilities": (),
    "GET /v1/card-keys": (),
    "POST /v1/payment-callbacks": ("UNAUTHENTICATED", "NOT_FOUND", "PAYMENT_AMOUNT_MISMATCH"),
    "POST /v1/sms-delivery-reports": ("UNAUTHENTICATED", "NOT_FOUND"),
    # queue
    "GET /v1/facilities/{code}/schedules": ("NOT_FOUND",),
    "POST /v1/bookings": ("NOT_FOUND", "PARTICIPANT_INACTIVE", "QUOTA_FULL", "DUPLICATE_BOOKING", "REFERRAL_REQUIRED",
                          "REFERRAL_INVALID", "BOOKING_WINDOW", "FACILITY_NOT_REGISTERED"),
    "GET /v1/bookings": ("NOT_FOUND",),
    "GET /v1/bookings/{booking_code}": ("NOT_FOUND",),
    "POST /v1/bookings/{booking_code}/cancel": ("NOT_FOUND", "BOOKING_NOT_CANCELLABLE"),
    "POST /v1/bookings/{booking_code}/reschedule": ("NOT_FOUND", "BOOKING_NOT_CANCELLABLE", "PARTICIPANT_INACTIVE",
                                                    "QUOTA_FULL", "DUPLICATE_BOOKING", "REFERRAL_REQUIRED",
                                                    "REFERRAL_INVALID", "BOOKING_WINDOW", "FACILITY_NOT_REGISTERED"),
    "POST /v1/waitlist": ("NOT_FOUND", "PARTICIPANT_INACTIVE", "SEATS_AVAILABLE", "DUPLICATE_BOOKING",
                          "REFERRAL_REQUIRED", "REFERRAL_INVALID", "BOOKING_WINDOW", "FACILITY_NOT_REGISTERED"),
    "GET /v1/waitlist": ("NOT_FOUND",),
    "DELETE /v1/waitlist/{waitlist_id}": ("NOT_FOUND",),
    "POST /v1/waitlist/{waitlist_id}/accept": ("NOT_FOUND", "OFFER_EXPIRED", "NOT_OFFERED", "DUPLICATE_BOOKING"),
    # operations and dev
    "GET /healthz": (),
    "GET /readyz": (),
    "GET /dev/outbox": (),
}
#: Routes that call nothing (a 503 of /readyz is its own Readiness body, documented on the route).
NO_DEPENDENCY = {"GET /healthz", "GET /readyz"}

_DESCRIPTIONS = {
    400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found", 409: "Conflict",
    410: "Gone", 413: "Request body over 1 MiB", 422: "Unprocessable", 423: "Locked", 429: "Too many requests",
    500: "Internal error (never the answer to bad input)", 503: "A backing service is unavailable; retry later",
}
_EXAMPLE_FIELDS: dict[str, dict[str, Any]] = {
    "VALIDATION_ERROR": {"errors": [{"field": "phone", "code": "string_too_short",
                                     "message": "String should have at least 8 characters"}]},
    "OTP_INVALID": {"attempts_left": 4},
    "PIN_INVALID": {"attempts_left": 4},
    "WEAK_PASSWORD": {"reasons": ["LENGTH", "NO_DIGIT"]},
    "WEAK_PIN": {"reasons": ["SEQUENCE"]},
    "OTP_SEND_LIMIT": {"rule": "destination_10m"},
    "OTP_RESEND_TOO_SOON": {"rule": "resend_cooldown"},
    "FKTP_CHANGE_TOO_SOON": {"next_allowed_date": "2026-04-01"},
    "PAYLOAD_TOO_LARGE": {"max_bytes": 1024 * 1024},
}
_RETRY_AFTER = {"description": "seconds to wait before trying again (also `retry_after` in the body)",
                "schema": {"type": "integer", "minimum": 1}}
_WWW_AUTHENTICATE = {"description": "`Bearer`", "schema": {"type": "string"}}


def key(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _has_inputs(dependant: Dependant) -> bool:
    if dependant.path_params or dependant.query_params or dependant.header_params or dependant.cookie_params \
            or dependant.body_params:
        return True
    return any(_has_inputs(sub) for sub in dependant.dependencies)


def api_routes(routes: list[BaseRoute]) -> Iterator[Any]:
    """Every API route as served: its full path, methods and dependencies with those of the routers
    it is included through (FastAPI's route contexts)."""
    for context in iter_route_contexts(routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def codes_of(route: Any, method: str) -> list[str]:
    """Every code ``method`` on ``route`` (an `api_routes` item) can answer with. A route missing
    from `ROUTE_CODES` gets only what its shape implies (a test keeps the table complete)."""
    name = key(method, route.path_format)
    codes = list(ROUTE_CODES.get(name, ()))
    calls = set(_calls(route.dependant))
    if calls & deps.AUTHENTICATING:
        codes.append("UNAUTHENTICATED")
    if _has_inputs(route.dependant):
        codes.append("VALIDATION_ERROR")
    if calls & {deps.limit_account_routes, deps.limit_bookings}:
        codes.append("RATE_LIMITED")
    codes.append("PAYLOAD_TOO_LARGE")
    if name not in NO_DEPENDENCY:
        codes.append("DEPENDENCY_UNAVAILABLE")
    codes.append("INTERNAL")
    return list(dict.fromkeys(codes))  # once each, in order


def example(code: str, path: str) -> dict[str, Any]:
    spec = CODES[code]
    value: dict[str, Any] = {"type": f"urn:jkn:problem:{code.lower().replace('_', '-')}", "title": spec.title_en,
                             "status": spec.http, "detail": spec.title_en, "code": code, "instance": path}
    value.update(_EXAMPLE_FIELDS.get(code, {}))
    if spec.http in (423, 429, 503):
        value["retry_after"] = 60 if spec.http != 503 else 5
    return {"summary": f"{code}: {spec.title_en}", "value": value}


def problem_responses(codes: list[str], path: str) -> dict[str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries of ``codes``, one per HTTP status."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(CODES[code].http, []).append(code)
    entries: dict[str, dict[str, Any]] = {}
    for status, group in sorted(by_status.items()):
        entry: dict[str, Any] = {
            "description": f"{_DESCRIPTIONS.get(status, 'Refused')}: " + ", ".join(f"`{c}`" for c in group),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"},
                                       "examples": {c: example(c, path) for c in group}}},
        }
        if status in (423, 429, 503):
            entry["headers"] = {"Retry-After": _RETRY_AFTER}
        elif status == 401:
            entry["headers"] = {"WWW-Authenticate": _WWW_AUTHENTICATE}
        entries[str(status)] = entry
    return entries


def _schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
    nested = schema.pop("$defs", {})
    return {**nested, "Problem": schema}


def document(routes: list[BaseRoute], openapi: dict[str, Any]) -> dict[str, Any]:
    """Put every route's problem responses into ``openapi`` (FastAPI's document), in place."""
    for route in api_routes(routes):
        if not route.include_in_schema:
            continue
        for method in sorted(route.methods or ()):
            operation = openapi["paths"][route.path_format][method.lower()]
            responses = operation["responses"]
            responses.pop("422", None)  # FastAPI's HTTPValidationError: ours is a problem
            for status, entry in problem_responses(codes_of(route, method), route.path_format).items():
                if status in responses and status != "422":  # a route's own description of it (/readyz's 503)
                    continue
                responses[status] = entry
            operation["responses"] = dict(sorted(responses.items()))
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(_schemas())
    return openapi
