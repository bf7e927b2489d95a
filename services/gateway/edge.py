"""The outermost layer of the gateway (pure ASGI, around even Starlette's error middleware, so a 500
gets it too): security headers on every response, and the request-body cap (CONTRACT.md §2).

Headers, each added unless the route set its own:
- ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer``;
- ``Content-Security-Policy``: only this origin's own scripts, styles, fonts and fetches, images
  also as data URLs (the captcha, the card's QR), no plug-ins, no framing, forms and ``<base>``
  only to this origin — what the same-origin web portal (its own JS/CSS files, no inline script)
  and the locally served ``/docs`` live with;
- ``Cache-Control: no-store``: tokens, personal data and problems are never kept by a browser
  or a proxy; a route that may be cached says so itself (``/v1/card-keys``, the docs' assets).

Body cap: a body over ``max_body_bytes`` (1 MiB) is 413 PAYLOAD_TOO_LARGE as a problem. A
``Content-Length`` over the cap is refused before the route runs; a chunked body is counted as it
streams and refused when it passes the cap, whatever the route was doing with it. The rest of the
body is read and dropped first (up to ``drain_bytes`` / ``drain_s``), because a server that
answers and closes while the client is still sending makes the client's kernel see a reset and
lose the answer; a body left unread gets ``Connection: close``. A client that sent
``Expect: 100-continue`` is answered at once: it has not sent the body, and will not.
"""

from __future__ import annotations

import asyncio
import time

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway import problems

CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
                           "base-uri 'self'; form-action 'self'")
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"cache-control", b"no-store"),
)


class PayloadTooLarge(HTTPException):
    """Raised to the route by ``receive`` once the body passes the cap (FastAPI re-raises an
    HTTPException from body parsing as it is); the edge answers the 413 itself either way."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail="request body too large")


def with_security_headers(message: Message) -> Message:
    if message["type"] == "http.response.start":
        headers = list(message.get("headers", []))
        present = {name.lower() for name, _ in headers}
        headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
        message["headers"] = headers
    return message


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, drain_bytes: int = 8 * 1024 * 1024,
                 drain_s: float = 5.0):
        self.app, self.max_body_bytes, self.drain_bytes, self.drain_s = app, max_body_bytes, drain_bytes, drain_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            await send(with_security_headers(message))

        headers = Headers(scope=scope)
        declared = _content_length(headers)
        if not declared and "transfer-encoding" not in headers:  # no body (HTTP/1.1): nothing to count
            await self.app(scope, receive, send_secured)
            return
        if declared is not None and declared > self.max_body_bytes:
            expects_continue = headers.get("expect", "").lower() == "100-continue"
            drained = not expects_continue and declared <= self.drain_bytes and \
                await self._drain(receive, more_body=True)
            await self._refuse(scope, send_secured, body_read=drained)
            return

        guard = _BodyGuard(receive, send_secured, self.max_body_bytes)
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            if not guard.exceeded or guard.app_started:
                raise
            # the route failed on the refused body (its error was swallowed below): ours is the answer
        if guard.exceeded and not guard.app_started:
            drained = not guard.more_body or await self._drain(receive, more_body=True)
            await self._refuse(scope, send_secured, body_read=drained)

    async def _drain(self, receive: Receive, *, more_body: bool) -> bool:
        """Read and drop the rest of the body; True when it was read to its end."""
        deadline, dropped = time.monotonic() + self.drain_s, 0
        while more_body:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or dropped > self.drain_bytes:
                return False
            try:
                message = await asyncio.wait_for(receive(), remaining)
            except TimeoutError:
                return False
            if message["type"] != "http.request":
                return False  # the client went away
            dropped += len(message.get("body", b""))
            more_body = message.get("more_body", False)
        return True

    async def _refuse(self, scope: Scope, send: Send, *, body_read: bool) -> None:
        response = problems.problem(Request(scope), "PAYLOAD_TOO_LARGE", max_bytes=self.max_body_bytes)
        if not body_read:
            response.headers["Connection"] = "close"

        async def nothing() -> Message:  # the response needs no more of the request
            return {"type": "http.disconnect"}

        await response(scope, nothing, send)


class _BodyGuard:
    """Counts the body as the route reads it; once it passes the cap, the route is told
    (`PayloadTooLarge`) and whatever it answers is dropped for the edge's 413."""

    def __init__(self, receive: Receive, send: Send, limit: int):
        self._receive, self._send, self.limit = receive, send, limit
        self.size = 0
        self.more_body = True
        self.exceeded = False
        self.app_started = False

    async def receive(self) -> Message:
        if self.exceeded:
            raise PayloadTooLarge()
        message = await self._receive()
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            self.more_body = message.get("more_body", False)
            if self.size > self.limit:
                self.exceeded = True
                raise PayloadTooLarge()
        return message

    async def send(self, message: Message) -> None:
        if self.exceeded and not self.app_started:
            return  # the edge answers 413 once the route is done
        if message["type"] == "http.response.start":
            self.app_started = True
        await self._send(message)


def _content_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
