"""``/docs``: Swagger UI from files the gateway serves itself (CONTRACT.md §1: the docs render
without internet), under the gateway's Content-Security-Policy: the page has no inline script —
its start-up is ``/docs/assets/init.js`` — and its assets come from this origin, out of the
``fastapi-offline`` package (Swagger UI's own distribution files)."""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse

router = APIRouter(include_in_schema=False)
_ASSETS = Path(str(resources.files("fastapi_offline") / "static"))
_CACHED = {"Cache-Control": "public, max-age=86400"}
#: The only files served (no path from the URL ever reaches the file system).
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")

#: The page's start-up, as a file of its own (no inline script under the CSP).
INIT_JS = """\
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout"
  });
});
"""


def page(*, title: str, openapi_url: str, assets: str) -> str:
    a = html.escape(assets, quote=True)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" type="image/png" href="{a}/favicon.png">
<link rel="stylesheet" href="{a}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{html.escape(openapi_url, quote=True)}"></div>
<script src="{a}/swagger-ui-bundle.js"></script>
<script src="{a}/init.js"></script>
</body>
</html>
"""


@router.get("/docs")
async def docs(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return HTMLResponse(page(title=f"{request.app.title} - Swagger UI", openapi_url=f"{root}/openapi.json",
                             assets=f"{root}/docs/assets"))


@router.get("/docs/assets/init.js")
async def init_js() -> Response:
    return Response(INIT_JS, media_type="text/javascript; charset=utf-8", headers=_CACHED)


@router.get("/docs/assets/{name}")
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404)
    return FileResponse(_ASSETS / name, headers=_CACHED)
