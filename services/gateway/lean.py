"""`LeanRoute`: a route class for the busiest routes, which skips FastAPI's dependency solver.

FastAPI solves an endpoint's dependencies anew on every request: a ``Response`` object, a cache
key and a typing alias per dependency, the recursion through sub-dependencies — about 15 % of the
gateway's CPU on ``GET /v1/me/membership``, 20 % with the routing on ``POST /v1/bookings``
(py-spy, bench/README.md). A lean route calls its endpoint with the request and the value of each
of its dependencies, computed by the function `deps.RESOLVERS` registers for it: a function of the
request alone, doing what the dependency and its sub-dependencies do. The route's own
``dependencies=[...]`` (and its router's) come first, in FastAPI's order: `deps.limit_bookings`
authenticates with the limit, and `deps.principal` then reuses the caller it found.

The endpoint's signature still names its dependencies, so the OpenAPI document (the bearer
scheme, the 401 it can answer) is the same as for any route. Besides the request and resolvable
dependencies an endpoint may take header parameters and one JSON body (a pydantic model), and
return a ``Response`` itself or a value for its response model (serialized as FastAPI does:
the route's status code, ``response_model_by_alias``…, application/json). Anything else (path,
query or cookie parameters, a form body, another response class) is refused when the route is
built, not at the first request.

The fast path is taken only for a request plainly valid: a JSON body (by FastAPI's reading of
the content type) that FastAPI's own parsing and the route's own fields accept, and headers they
accept. On any doubt (an empty body, another content type, bad JSON, a failed field) the request
goes to FastAPI's handler of the same route, before anything was resolved, so that every refusal
is exactly FastAPI's (Starlette keeps the body read on the request, so it is read once).
"""

from __future__ import annotations

import email.message
import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import params, routing
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.utils import request_body_to_args, request_params_to_args
from fastapi.routing import APIRoute, serialize_response
from fastapi.utils import is_body_allowed_for_status_code
from starlette.requests import Request
from starlette.responses import Response

from services.gateway.deps import RESOLVERS

Resolver = Callable[[Request], Awaitable[Any]]
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@functools.lru_cache(maxsize=32)
def is_json(content_type: str) -> bool:
    """A content type FastAPI reads the body of as JSON: ``application/json`` or
    ``application/*+json``, parameters and case aside (FastAPI's own test, kept for the few
    values clients send)."""
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


class LeanRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        # the route as included in its router (FastAPI keeps it in this variable while it builds the
        # handler of an included route; a router's own dependencies would be in its dependant)
        effective = getattr(routing, "_effective_route_context_var", None)
        context = effective.get() if effective is not None else None
        route: Any = context if context is not None and context.original_route is self else self
        dependant, path = route.dependant, self.path_format
        fastapi_handler = super().get_route_handler()  # for every request not plainly valid
        if dependant.path_params or dependant.query_params or dependant.cookie_params:
            raise TypeError(f"{path}: a lean route takes no path, query or cookie parameters")
        if dependant.response_param_name or dependant.background_tasks_param_name or \
                dependant.http_connection_param_name or dependant.security_scopes_param_name or \
                not inspect.iscoroutinefunction(self.endpoint):
            raise TypeError(f"{path}: a lean route's endpoint is an async def taking the request at most")
        body_field = route.body_field
        if dependant.body_params and (len(dependant.body_params) != 1 or route._embed_body_fields
                                      or isinstance(body_field.field_info, params.Form)):
            raise TypeError(f"{path}: a lean route takes at most one JSON body, not embedded")
        returns = inspect.signature(self.endpoint, eval_str=True).return_annotation
        returns_response = inspect.isclass(returns) and issubclass(returns, Response)
        status = route.status_code or 200
        if not returns_response and (route.response_field is None or
                                     not isinstance(route.response_class, DefaultPlaceholder) or
                                     not is_body_allowed_for_status_code(status)):
            raise TypeError(f"{path}: a lean route's endpoint returns a Response or its response model (as JSON)")
        calls = [sub.call for sub in dependant.dependencies]
        if len(set(calls)) != len(calls):  # FastAPI would solve it once
            raise TypeError(f"{path}: a lean route takes each dependency once")
        solvers: list[tuple[str | None, Resolver]] = []
        for sub in dependant.dependencies:  # the route's own dependencies first, as FastAPI solves them
            if sub.call not in RESOLVERS:
                raise TypeError(f"{path}: no request-level resolver for dependency {sub.call!r}")
            solvers.append((sub.name, RESOLVERS[sub.call]))  # no name: a route's dependency, for its effect
        request_name, endpoint, headers = dependant.request_param_name, self.endpoint, dependant.header_params
        body_params, overrides = dependant.body_params, route.dependency_overrides_provider
        serialize = {"field": route.response_field, "include": route.response_model_include,
                     "exclude": route.response_model_exclude, "by_alias": route.response_model_by_alias,
                     "exclude_unset": route.response_model_exclude_unset,
                     "exclude_defaults": route.response_model_exclude_defaults,
                     "exclude_none": route.response_model_exclude_none, "dump_json": True}

        async def handler(request: Request) -> Response:
            if overrides is not None and overrides.dependency_overrides:
                return await fastapi_handler(request)  # the overrides are FastAPI's to apply
            values: dict[str, Any] = {}
            if body_params:
                try:
                    body = await request.body()
                except Exception as error:  # FastAPI's handler meets the same failure and answers it
                    return await fastapi_handler(_failing(request, error))
                content_type = request.headers.get("content-type")
                if not body or not content_type or not is_json(content_type):
                    return await fastapi_handler(request)
                try:
                    parsed = await request.json()  # json.loads, as FastAPI parses it
                except Exception:
                    return await fastapi_handler(request)
                fields, errors = await request_body_to_args(body_params, parsed, embed_body_fields=False)
                if errors:
                    return await fastapi_handler(request)
                values.update(fields)
            if headers:
                fields, errors = request_params_to_args(headers, request.headers)
                if errors:
                    return await fastapi_handler(request)
                values.update(fields)
            for name, solve in solvers:
                value = await solve(request)
                if name is not None:
                    values[name] = value
            if request_name:
                values[request_name] = request
            raw = await endpoint(**values)
            if isinstance(raw, Response):
                return raw
            content = await serialize_response(response_content=raw, **serialize)
            return Response(content, status_code=status, media_type="application/json")

        return handler


def _failing(request: Request, error: Exception) -> Request:
    """The request again, its body failing with ``error`` when read (its stream is spent)."""

    async def receive() -> Any:
        raise error

    return Request(request.scope, receive)
