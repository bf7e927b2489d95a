"""The portal as the gateway serves it (CONTRACT.md §9), without a browser: the page and its files
come from this origin under the gateway's Content-Security-Policy (no inline script or style, no CDN),
gzipped within the log-in page's budget, an installable manifest and a service worker at the root,
and only the allow-listed files."""

from __future__ import annotations

import json
import re

import pytest

from services.gateway import portal
from services.gateway.edge import CONTENT_SECURITY_POLICY

PROBLEM = "application/problem+json"


async def test_the_page_loads_only_this_origins_files_with_no_inline_script_or_style(gateway_client):
    async with gateway_client({}) as (_, client):
        page = await client.get("/")
        referenced = re.findall(r'(?:src|href)="([^"#]+)"', page.text)
        assets = {url: await client.get(url) for url in referenced}
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY  # the gateway's, unchanged
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) == []
    assert " style=" not in page.text and "<style" not in page.text
    assert referenced and all(url.startswith("/") and not url.startswith("//") for url in referenced)
    assert {url: a.status_code for url, a in assets.items()} == dict.fromkeys(referenced, 200)
    assert f"/portal/app.js?v={portal.VERSION}" in referenced


async def test_the_log_in_page_and_its_files_go_gzipped_within_150_kb(gateway_client):
    async with gateway_client({}) as (_, client):
        page = await client.get("/", headers={"Accept-Encoding": "gzip"})
        first_load = [page] + [await client.get(url, headers={"Accept-Encoding": "gzip"})
                               for url in re.findall(r'(?:src|href)="([^"#]+)"', page.text)]
        plain = await client.get("/portal/app.js", headers={"Accept-Encoding": "identity"})
    assert page.headers["content-encoding"] == "gzip" and page.headers["vary"] == "Accept-Encoding"
    assert plain.headers.get("content-encoding") is None and "JKN" in plain.text
    on_the_wire = sum(int(r.headers["content-length"]) for r in first_load)
    assert on_the_wire <= 150 * 1024, on_the_wire


async def test_an_installable_manifest_and_a_service_worker_for_the_whole_portal(gateway_client):
    async with gateway_client({}) as (_, client):
        manifest = await client.get("/manifest.webmanifest")
        worker = await client.get("/sw.js")
        icons = {icon["src"]: await client.get(icon["src"]) for icon in manifest.json()["icons"]}
    body = json.loads(manifest.text)
    assert manifest.headers["content-type"] == "application/manifest+json"
    assert body["start_url"] == "/" and body["display"] == "standalone" and body["name"]
    assert {icon["sizes"] for icon in body["icons"]} >= {"192x192", "512x512"}
    assert all(i.status_code == 200 and i.headers["content-type"] == "image/png" for i in icons.values())
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"  # a new release is seen at once
    assert f'"{portal.VERSION}"' in worker.text and "/portal/views.js?v=" in worker.text
    assert "/v1/" in worker.text  # it says the API is never cached (and does not cache it)


@pytest.mark.parametrize("path", ["/portal/..%2F__init__.py", "/portal/index.html", "/portal/sw.js",
                                  "/portal/vendor%2Fqrcode.js", "/kartu"])
async def test_only_the_allow_listed_files_are_served(gateway_client, path):
    async with gateway_client({}) as (_, client):
        response = await client.get(path)
    assert response.status_code == 404 and response.headers["content-type"] == PROBLEM


async def test_the_page_offers_a_later_feature_only_when_the_gateway_has_its_route(gateway_client, monkeypatch):
    monkeypatch.setitem(portal.FEATURES, "sample-feature", ("POST", "/v1/sample-feature"))
    async with gateway_client({}) as (app, client):
        before = await client.get("/")

        @app.post("/v1/sample-feature")
        async def sample() -> dict:
            return {}

        after = await client.get("/")
    offered = lambda page: re.search(r'data-features="([^"]*)"', page.text).group(1).split()  # noqa: E731
    assert "sample-feature" not in offered(before) and "sample-feature" in offered(after)
    assert set(offered(before)) <= set(portal.FEATURES)
