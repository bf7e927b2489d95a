"""Request ids, a SERVER span, RED metrics by route template, and access logs (pure ASGI, no buffering).

The span is the root of the request's trace (or continues a caller's ``traceparent``) and is
current while the route runs, so every gRPC call it makes is its child. It is named and
labelled by the route template (``POST /v1/registrations``), never by the raw URL: paths and
query strings can hold personal data (a phone number to look up, a position). Client
addresses and user agents are not recorded either. Probes (``/healthz``, ``/readyz``),
``/metrics`` and the dev-only routes are measured but not traced.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit import metrics
from services.kit.logs import get_logger
from services.kit.telemetry import start_span, untraced

log = get_logger("jkn.gateway.access")
tracer = trace.get_tracer("jkn.gateway")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_QUIET = {"/healthz", "/readyz", "/metrics"}
_NO_CALLS = {"/healthz", "/metrics"}  # quiet routes that call nothing: no unsampled span to make
_TRACE_HEADERS = (b"traceparent", b"tracestate")


def traced(path: str) -> bool:
    """Whether a request to ``path`` gets a span (probes, metrics and /dev/* do not)."""
    return path.rstrip("/") not in _QUIET and not path.startswith("/dev/")


_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _metric_children(method: str, template: str, status: int) -> tuple[Any, Any]:
    """The request counter and latency histogram children of these labels (``labels()`` takes a
    lock and builds a key on every call: done once per label set; bounded, as methods come from
    clients)."""
    children = _children.get((method, template, status))
    if children is None:
        if len(_children) >= 10_000:
            _children.clear()
        children = _children[(method, template, status)] = (
            metrics.HTTP_REQUESTS.labels(method, template, str(status)), metrics.HTTP_LATENCY.labels(method, template))
    return children


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming_raw, caller = b"", {}
        for name, value in scope["headers"]:  # one pass; the last of a repeated header wins
            if name == b"x-request-id":
                incoming_raw = value
            elif name in _TRACE_HEADERS:
                caller[name.decode("latin-1")] = value.decode("latin-1")
        incoming = incoming_raw.decode(errors="ignore")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        method = scope["method"]
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        if not traced(scope["path"]):
            try:
                if scope["path"] in _NO_CALLS:
                    await self.app(scope, receive, send_with_id)
                else:
                    with untraced():  # nor the gRPC calls it makes (readiness, the dev outbox)
                        await self.app(scope, receive, send_with_id)
            finally:
                self._record(scope, method, status, started, request_id)
            return
        span = start_span(tracer, method, parent=propagate.extract(caller) if caller else None, kind=SpanKind.SERVER,
                          attributes={"http.request.method": method, "url.scheme": scope.get("scheme", "http")})
        with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                template = self._record(scope, method, status, started, request_id)
                if span.is_recording():
                    span.update_name(f"{method} {template}")
                    span.set_attribute("http.route", template)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                        span.set_attribute("error.type", str(status))

    @staticmethod
    def _record(scope: Scope, method: str, status: int, started: float, request_id: str) -> str:
        """Metrics and the access log of one request; returns its route template."""
        elapsed = time.perf_counter() - started
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        requests, latency = _metric_children(method, template, status)
        requests.inc()
        latency.observe(elapsed)
        if template not in _QUIET:
            log.info("http_request", extra={"method": method, "route": template, "status": status,
                                            "duration_ms": round(elapsed * 1000, 2), "request_id": request_id})
        return template
