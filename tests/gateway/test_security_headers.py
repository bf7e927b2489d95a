"""Security headers on every answer of the gateway (CONTRACT.md §2), errors and crashes included,
and /docs working under the Content-Security-Policy from files the gateway serves itself."""

from __future__ import annotations

import re

import pytest

from services.gateway.edge import CONTENT_SECURITY_POLICY

PROBLEM = "application/problem+json"
EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": CONTENT_SECURITY_POLICY,
}


def assert_secured(response, *, cache: str | None = "no-store") -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers)
    if cache is not None:
        assert response.headers.get("cache-control") == cache, (response.request.url, response.headers)


async def test_success_answers_carry_the_security_headers_and_no_store(gateway_client):
    async with gateway_client({}) as (_, client):
        for path in ("/healthz", "/openapi.json", "/docs"):
            response = await client.get(path)
            assert response.status_code == 200
            assert_secured(response)


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), [
    ("GET", "/v1/nothing-here", {}, 404),
    ("PUT", "/healthz", {}, 405),
    ("GET", "/dev/outbox", {"params": {"limit": "0"}}, 422),
    ("POST", "/v1/sessions", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 422),
    ("GET", "/v1/me", {}, 401),
    ("GET", "/dev/outbox", {}, 503),  # notify's address points at nothing
    ("POST", "/v1/sessions", {"content": b"x" * (1024 * 1024 + 1)}, 413),
])
async def test_error_answers_are_problems_with_the_security_headers(gateway_client, method, path, kwargs, status):
    async with gateway_client({}) as (_, client):
        response = await client.request(method, path, **kwargs)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == status
    assert_secured(response)


async def test_a_crash_is_a_problem_with_the_security_headers(gateway_client):
    async with gateway_client({}) as (app, client):
        @app.get("/crash")
        async def crash() -> dict:
            raise RuntimeError("boom")

        response = await client.get("/crash")
    assert response.status_code == 500 and response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "INTERNAL" and "boom" not in response.text
    assert_secured(response)


async def test_token_answers_are_never_stored(gateway_client):
    """The token routes set no Cache-Control of their own: the edge's no-store holds for them,
    refused or not (here auth is away: 503)."""
    async with gateway_client({}) as (_, client):
        login = await client.post("/v1/sessions", json={"identifier": "0004567890006", "password": "Sehat#2026"})
        refresh = await client.post("/v1/sessions/refresh", json={"refresh_token": "q" * 40})
    for response in (login, refresh):
        assert_secured(response)


async def test_a_route_that_may_be_cached_keeps_its_own_cache_control(gateway_client):
    async with gateway_client({}) as (_, client):
        css = await client.get("/docs/assets/swagger-ui.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert_secured(css, cache="public, max-age=86400")


async def test_docs_load_only_this_origins_files_and_no_inline_script(gateway_client):
    async with gateway_client({}) as (_, client):
        page = await client.get("/docs")
        referenced = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assets = {url: await client.get(url) for url in referenced}
        unknown = await client.get("/docs/assets/..%2F..%2Fsettings.py")
    assert page.headers["content-type"].startswith("text/html")
    assert referenced and all(url.startswith("/docs/assets/") for url in referenced)  # no CDN
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) == []  # every script is a file: CSP allows it
    assert {url: a.status_code for url, a in assets.items()} == dict.fromkeys(referenced, 200)
    bundle = assets["/docs/assets/swagger-ui-bundle.js"]
    assert "SwaggerUIBundle" in bundle.text and len(bundle.content) > 500_000
    assert "/openapi.json" in page.text and "SwaggerUIBundle(" in assets["/docs/assets/init.js"].text
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
