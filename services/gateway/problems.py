"""RFC 9457 problem responses in the contract's shape (CONTRACT.md §2).

``{type, title, status, detail, code, ...}`` with ``title``/``detail`` in the language of
``Accept-Language`` (``id`` by default, ``en``). Every 429 and 423 carries ``Retry-After``
and ``retry_after``. Nothing of a stack trace ever reaches a client.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from services.kit.errors import CODES, DomainError, RemoteError, decode_rpc_error, dependency_failure
from services.kit.logs import get_logger

log = get_logger("jkn.gateway")
PROBLEM_JSON = "application/problem+json"
#: Starlette's and FastAPI's own HTTP errors (an unknown path, a wrong method, a body that cannot be
#: read, the body cap) as contract codes; the status stays the one raised.
_HTTP_TO_CODE = {400: "VALIDATION_ERROR", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 405: "NOT_FOUND", 413: "PAYLOAD_TOO_LARGE", 422: "VALIDATION_ERROR", 429: "RATE_LIMITED",
                 503: "DEPENDENCY_UNAVAILABLE"}


def language(request: Request) -> str:
    """``en`` when the client prefers English, otherwise Bahasa Indonesia (``id``)."""
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("id") or tag.startswith("in"):
            return "id"
    return "id"


def problem(request: Request, code: str, *, detail: str | None = None, status: int | None = None,
            **fields: Any) -> JSONResponse:
    """The problem response for one contract ``code``."""
    spec = CODES.get(code) or CODES["INTERNAL"]
    title = spec.title_en if language(request) == "en" else spec.title_id
    status = status or spec.http
    body: dict[str, Any] = {
        "type": f"urn:jkn:problem:{code.lower().replace('_', '-')}",
        "title": title, "status": status, "detail": detail or title, "code": code,
        "instance": request.url.path,
    }
    headers = {}
    if "retry_after" in fields or status in (423, 429, 503):
        retry_after = max(1, math.ceil(float(fields.get("retry_after") or 1)))
        fields["retry_after"] = retry_after
        headers["Retry-After"] = str(retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    body.update(fields)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def remote_error_handler(request: Request, error: Exception) -> JSONResponse:
    """A failed gRPC call (already decoded, or raw) → its problem."""
    remote = error if isinstance(error, RemoteError) else decode_rpc_error(error)  # type: ignore[arg-type]
    if remote.code == "INTERNAL":
        log.error("upstream_internal_error", extra={"grpc_code": remote.grpc_status.name})
    return problem(request, remote.code, status=remote.http_status, **remote.fields)


async def domain_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    return problem(request, error.code, detail=error.detail, **error.fields)


async def validation_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"field": ".".join(str(p) for p in e["loc"] if p not in ("body", "query", "path", "header")),
         "code": e["type"], "message": e["msg"]}
        for e in error.errors()
    ]
    return problem(request, "VALIDATION_ERROR", errors=errors)


async def http_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    if error.status_code == 400:  # FastAPI could not read the body at all (not UTF-8, not parseable)
        return problem(request, "VALIDATION_ERROR", errors=[
            {"field": "body", "code": "json_invalid", "message": "the body is not readable JSON (UTF-8)"}])
    code = _HTTP_TO_CODE.get(error.status_code, "INTERNAL")
    response = problem(request, code, status=error.status_code)
    for key, value in (error.headers or {}).items():
        response.headers[key] = value
    return response


async def unexpected_error_handler(request: Request, error: Exception) -> JSONResponse:
    """A dependency that is down is a clear 503; anything else a 500 without details."""
    unavailable = dependency_failure(error)
    if unavailable is not None:
        log.warning("dependency_unavailable", extra={"path": request.url.path, "error": type(error).__name__})
        return problem(request, unavailable.code, **unavailable.fields)
    log.error("request_crashed", exc_info=error, extra={"path": request.url.path})
    return problem(request, "INTERNAL")
