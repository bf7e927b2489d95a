"""The participant web portal at ``/`` (CONTRACT.md §9): a small client app of the public ``/v1`` API,
served by the gateway from this package's files (same origin, so no CORS and no CDN).

- ``/`` is the page shell (``index.html``); the views are drawn by ``static/app.js`` from the API's
  answers, as the mobile app draws its screens. The shell names the §7 features whose routes this
  gateway has (``data-features``), so the page offers only what the API can do today.
- ``/portal/<file>`` are the allow-listed assets (no path from the URL reaches the file system),
  cached by browsers for a week: the shell asks for them with the assets' version in the URL.
- ``/sw.js`` (the service worker, at the root so that it controls ``/``) and
  ``/manifest.webmanifest`` make it an installable PWA whose card opens offline once visited.

Everything lives under the gateway's Content-Security-Policy as it is (``edge.py``): every script is
a file of this origin, no inline script or style, the QR is drawn as SVG, the captcha is a data URL.
"""

from __future__ import annotations

import gzip
import hashlib
import html
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse

from services.gateway.responses import api_routes

router = APIRouter(include_in_schema=False)
_HERE = Path(str(resources.files(__package__)))
_STATIC = _HERE / "static"
#: The only files served under /portal/, with their media types.
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "views.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "qrcode.js": "text/javascript; charset=utf-8",
    "icon-192.png": "image/png",
    "icon-512.png": "image/png",
}
_FILES = {"qrcode.js": _STATIC / "vendor" / "qrcode.js"}
#: §7 features the page offers when this gateway has their route (method, path).
FEATURES = {
    "registration-status": ("GET", "/v1/registrations/{registration_id}"),
    "reschedule": ("POST", "/v1/bookings/{booking_code}/reschedule"),
    "waitlist": ("POST", "/v1/waitlist"),
}
_WEEK = {"Cache-Control": "public, max-age=604800, immutable"}
_REVALIDATE = {"Cache-Control": "no-cache"}  # the shell and the worker: always asked again, never stale


def _path(name: str) -> Path:
    return _FILES.get(name, _STATIC / name)


def _version() -> str:
    """The assets' version: a digest of their bytes, so a new release is a new URL (and a new worker)."""
    digest = hashlib.sha256()
    for name in sorted(ASSETS):
        digest.update(_path(name).read_bytes())
    digest.update((_HERE / "sw.js").read_bytes())
    return digest.hexdigest()[:12]


VERSION = _version()
_INDEX = (_HERE / "index.html").read_text(encoding="utf-8")
_WORKER = (_HERE / "sw.js").read_text(encoding="utf-8").replace("__VERSION__", VERSION)


def _compressed(path: Path) -> tuple[bytes, bytes]:
    raw = path.read_bytes()
    return raw, gzip.compress(raw, compresslevel=9, mtime=0)


#: Text assets in memory, as they are and gzipped (the log-in page's budget is counted on the wire).
_TEXTS = {name: _compressed(_path(name)) for name, media in ASSETS.items() if media.startswith("text/")}


def _send(request: Request, raw: bytes, packed: bytes, media_type: str, headers: dict[str, str]) -> Response:
    gzipped = "gzip" in request.headers.get("accept-encoding", "").lower()
    return Response(packed if gzipped else raw, media_type=media_type, headers={
        **headers, "Vary": "Accept-Encoding", **({"Content-Encoding": "gzip"} if gzipped else {})})


def features(request: Request) -> list[str]:
    have = {(method, route.path_format) for route in api_routes(request.app.routes) for method in route.methods or ()}
    return sorted(name for name, route in FEATURES.items() if route in have)


@router.get("/")
async def index(request: Request) -> Response:
    page = _INDEX.replace("__VERSION__", VERSION).replace("__FEATURES__", html.escape(" ".join(features(request))))
    raw = page.encode()
    return _send(request, raw, gzip.compress(raw, mtime=0), "text/html; charset=utf-8", _REVALIDATE)


@router.get("/sw.js")
async def service_worker() -> Response:
    return Response(_WORKER, media_type="text/javascript; charset=utf-8", headers=_REVALIDATE)


@router.get("/manifest.webmanifest")
async def manifest() -> FileResponse:
    return FileResponse(_HERE / "manifest.webmanifest", media_type="application/manifest+json", headers=_REVALIDATE)


@router.get("/portal/{name}")
async def asset(name: str, request: Request) -> Response:
    if name not in ASSETS:
        raise HTTPException(404)
    if name in _TEXTS:
        return _send(request, *_TEXTS[name], ASSETS[name], _WEEK)
    return FileResponse(_path(name), media_type=ASSETS[name], headers=_WEEK)
