"""The BPJS-compatible bridge for hospital software (CONTRACT.md §8): FastAPI on ``JKN_BRIDGE_PORT``.

It holds no business rules: it checks the BPJS headers (`headers`), maps each Antrean RS and
VClaim endpoint to the partner gRPC APIs of queue and membership with the hospital's own
signature (`antrean`, `vclaim`), and encodes the answer BPJS-style (`answers`, `crypto`). Every
refusal is logged with the facility and the reason, never personal data; nothing answers with
a stack trace.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException

from services.bridge import answers, antrean, health, metrics, vclaim
from services.bridge.answers import Refusal
from services.bridge.middleware import ObservabilityMiddleware
from services.bridge.settings import BridgeSettings
from services.bridge.state import BridgeState
from services.kit.logs import get_logger
from services.kit.telemetry import flush_tracing, setup_tracing

log = get_logger("jkn.bridge")
NO_NATIVE_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def _template(request: Request) -> str:
    return getattr(request.scope.get("route"), "path", None) or "unmatched"


def answer(request: Request, refusal: Refusal) -> JSONResponse:
    """A refusal as BPJS answers it, logged with the facility and the reason (`answers` rule 2, 3)."""
    route = _template(request)
    metrics.ANSWERS.labels(route, str(refusal.code)).inc()
    log.info("bridge_refused", extra={"facility": getattr(request.state, "facility", "-"), "route": route,
                                      "code": refusal.code, "reason": refusal.reason})
    body = answers.envelope(answers.dialect_of(request.url.path), refusal.code, refusal.message)
    return JSONResponse(body, status_code=refusal.http_status, headers=refusal.headers)


async def _refusal(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Refusal)
    return answer(request, error)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    status = error.status_code if isinstance(error, HTTPException) else 404
    if status == 405:
        return answer(request, Refusal(405, "Metode tidak didukung", "METHOD_NOT_ALLOWED", http_status=405))
    return answer(request, answers.not_a_route())


async def _bad_request(request: Request, error: Exception) -> JSONResponse:
    return answer(request, answers.refused("Format data tidak valid", "VALIDATION_ERROR"))


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.error("bridge_failed", extra={"facility": getattr(request.state, "facility", "-"),
                                      "route": _template(request), "error": type(error).__name__})
    return answer(request, answers.unexpected())


def create_app(settings: BridgeSettings | None = None) -> FastAPI:
    settings = settings or BridgeSettings()
    setup_tracing("bridge")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.callback(flush_tracing)
            app.state.bridge = await BridgeState.open(settings, stack)
            yield

    # FastAPI's own telemetry stays off: it would record raw paths (NIKs and NOKAs are in them).
    app = FastAPI(title="JKN BPJS-compatible bridge", version="1.0.0", lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None, telemetry=NO_NATIVE_TELEMETRY)
    app.add_exception_handler(Refusal, _refusal)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _bad_request)
    app.add_exception_handler(Exception, _unexpected)
    app.include_router(health.router)
    app.include_router(antrean.router)
    app.include_router(vclaim.router)
    app.add_middleware(ObservabilityMiddleware)
    return app
