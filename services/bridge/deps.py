"""The request context of every BPJS route (``Annotated[..., Depends(...)]``): the facility the
headers authenticate, the partner calls made with its signature, the body read within its cap,
and the answer encoded for it."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, TypeVar

import grpc
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from services.bridge import answers, crypto, headers, metrics
from services.bridge.answers import Dialect, Refusal
from services.bridge.state import BridgeState
from services.kit.errors import DependencyUnavailable, decode_rpc_error

Reply = TypeVar("Reply")
Body = TypeVar("Body", bound=BaseModel)


@dataclass
class Bridge:
    """One request of one facility."""

    state: BridgeState
    caller: headers.Caller
    dialect: Dialect
    request: Request

    @property
    def facility(self) -> str:
        return self.caller.cons_id

    async def call(self, method: Callable[..., Awaitable[Reply]], message: Any) -> Reply:
        """A partner RPC with the facility's own signature; its refusal as BPJS answers it."""
        try:
            return await method(message, metadata=self.caller.metadata())
        except grpc.aio.AioRpcError as error:
            raise answers.from_remote(decode_rpc_error(error)) from None
        except DependencyUnavailable as error:
            raise answers.unavailable(int(error.fields.get("retry_after", 5))) from None

    def ok(self, response: Any = None, *, code: int = answers.OK, message: str | None = None) -> JSONResponse:
        """The envelope with ``response`` encrypted for this request (null stays null)."""
        encrypted = None if response is None else crypto.encrypt(
            response, cons_id=self.caller.cons_id, secret=self.caller.secret, timestamp=self.caller.timestamp)
        route = getattr(self.request.scope.get("route"), "path", None) or "unmatched"
        metrics.ANSWERS.labels(route, str(code)).inc()
        return JSONResponse(answers.envelope(self.dialect, code, message or answers.ok_message(self.dialect),
                                             encrypted))

    async def body(self, model: type[Body]) -> Body:
        """The JSON body as ``model``, read up to the cap; bad JSON or fields: code 201 naming them."""
        limit = self.state.settings.max_body_bytes
        declared = self.request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise answers.too_large()
        chunks, size = [], 0
        async for chunk in self.request.stream():
            size += len(chunk)
            if size > limit:
                raise answers.too_large()
            chunks.append(chunk)
        try:
            return model.model_validate(json.loads(b"".join(chunks) or b"null"))
        except (ValueError, UnicodeDecodeError) as error:
            fields = sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]}) \
                if isinstance(error, ValidationError) else []
            message = "Format data tidak valid" + (f": {', '.join(fields)}" if fields else "")
            raise answers.refused(message, "VALIDATION_ERROR") from None


def visit_date(value: str) -> str:
    """A date of a path or body, ``YYYY-MM-DD``; anything else is code 201 saying so."""
    try:
        if len(value) == 10:
            return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise answers.refused("Format tanggal tidak sesuai, format yang benar yyyy-mm-dd", "VALIDATION_ERROR")


async def _bridge(request: Request) -> Bridge:
    """Every BPJS route: the headers checked first (`headers`), the facility kept for the log."""
    state: BridgeState = request.app.state.bridge
    try:
        caller = headers.authenticate(request.headers, state.secrets, state.user_keys, now=time.time())
    except headers.Unauthorised:
        raise answers.unauthorised() from None
    request.state.facility = caller.cons_id
    return Bridge(state=state, caller=caller, dialect=answers.dialect_of(request.url.path), request=request)


Ctx = Annotated[Bridge, Depends(_bridge)]

__all__ = ["Bridge", "Ctx", "Refusal", "visit_date"]
