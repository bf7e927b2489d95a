"""A SERVER span, RED metrics and an access log per request, named by the route template (pure ASGI).

Paths of the BPJS routes carry NIKs, NOKAs and booking codes, so neither the raw path nor the
query is ever recorded: only the template (``GET /vclaim-rest/Peserta/nik/{nik}/tglSEP/{tanggal}``),
the status and, once the headers named it, the facility. Probes and ``/metrics`` are measured but
not traced. Every response gets ``X-Content-Type-Options: nosniff`` and ``Cache-Control: no-store``.
"""

from __future__ import annotations

import time

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit import metrics
from services.kit.logs import get_logger
from services.kit.telemetry import start_span, untraced

log = get_logger("jkn.bridge.access")
tracer = trace.get_tracer("jkn.bridge")
_QUIET = {"/healthz", "/readyz", "/metrics"}
_TRACE_HEADERS = (b"traceparent", b"tracestate")
_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store"))


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, started, status = scope["method"], time.perf_counter(), 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).extend(_HEADERS)
            await send(message)

        if scope["path"].rstrip("/") in _QUIET:
            try:
                with untraced():
                    await self.app(scope, receive, send_with_headers)
            finally:
                self._record(scope, method, status, started)
            return
        caller = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in _TRACE_HEADERS}
        span = start_span(tracer, method, parent=propagate.extract(caller) if caller else None, kind=SpanKind.SERVER,
                          attributes={"http.request.method": method})
        with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
            try:
                await self.app(scope, receive, send_with_headers)
            finally:
                template = self._record(scope, method, status, started)
                if span.is_recording():
                    span.update_name(f"{method} {template}")
                    span.set_attribute("http.route", template)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))

    @staticmethod
    def _record(scope: Scope, method: str, status: int, started: float) -> str:
        elapsed = time.perf_counter() - started
        template = getattr(scope.get("route"), "path", None) or "unmatched"
        metrics.HTTP_REQUESTS.labels(method, template, str(status)).inc()
        metrics.HTTP_LATENCY.labels(method, template).observe(elapsed)
        if template not in _QUIET:
            facility = scope.get("state", {}).get("facility", "-")
            log.info("http_request", extra={"method": method, "route": template, "status": status,
                                            "facility": facility, "duration_ms": round(elapsed * 1000, 2)})
        return template
