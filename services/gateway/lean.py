"""`LeanRoute`: a route class for the busiest routes, which skips FastAPI's dependency solver.

FastAPI solves an endpoint's dependencies anew on every request: a ``Response`` object, a cache
key and a typing alias per dependency, the recursion through sub-dependencies — about 15 % of the
gateway's CPU on ``GET /v1/me/membership`` (py-spy, bench/README.md). A lean route calls its
endpoint with the request and the value of each of its dependencies, computed by the function
`deps.RESOLVERS` registers for it: a function of the request alone, doing what the dependency
and its sub-dependencies do.

The endpoint's signature still names its dependencies, so the OpenAPI document (the bearer
scheme, the 401 it can answer) is the same as for any route. Made only for an endpoint that takes
nothing but the request and resolvable dependencies and returns a ``Response`` itself (no body,
path or query parameters to validate, no response model to serialize); anything else is refused
when the route is built, not at the first request.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import routing
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from services.gateway.deps import RESOLVERS

Resolver = Callable[[Request], Awaitable[Any]]


class LeanRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        # the route as included in its router (FastAPI keeps it in this variable while it builds the
        # handler of an included route; a router's own dependencies would be in its dependant)
        effective = getattr(routing, "_effective_route_context_var", None)
        context = effective.get() if effective is not None else None
        dependant = context.dependant if context is not None and context.original_route is self else self.dependant
        path = self.path_format
        if dependant.path_params or dependant.query_params or dependant.header_params or \
                dependant.cookie_params or dependant.body_params:
            raise TypeError(f"{path}: a lean route takes no parameters to validate")
        returns = inspect.signature(self.endpoint, eval_str=True).return_annotation
        if not (inspect.isclass(returns) and issubclass(returns, Response)):
            raise TypeError(f"{path}: a lean route's endpoint returns a Response")
        solvers: list[tuple[str, Resolver]] = []
        for sub in dependant.dependencies:
            if sub.call not in RESOLVERS or sub.name is None:
                raise TypeError(f"{path}: no request-level resolver for dependency {sub.call!r}")
            solvers.append((sub.name, RESOLVERS[sub.call]))
        request_name, endpoint = dependant.request_param_name, self.endpoint

        async def handler(request: Request) -> Response:
            values = {name: await solve(request) for name, solve in solvers}
            if request_name:
                values[request_name] = request
            response: Response = await endpoint(**values)
            return response

        return handler
