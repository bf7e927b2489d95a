"""Dependencies of the routes, as named aliases (``Annotated[..., Depends(...)]``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.gateway.bearer import Principal
from services.gateway.state import GatewayState
from services.kit.errors import Unauthenticated

_bearer = HTTPBearer(auto_error=False, description="Access token from POST /v1/sessions")


def _state(request: Request) -> GatewayState:
    return request.app.state.gateway


State = Annotated[GatewayState, Depends(_state)]


async def _principal(state: State, credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                          Depends(_bearer)]) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("missing access token")
    return await state.jwks.verify(credentials.credentials)


#: The authenticated caller; missing, invalid or expired token → 401 UNAUTHENTICATED.
CurrentPrincipal = Annotated[Principal, Depends(_principal)]
