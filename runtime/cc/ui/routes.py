"""`GET /ui/`: the dashboard's static files, package data beside this module (no build step, no
CDN: a cluster without internet serves the same page).

The files load without a key (the API gate lets `/ui` through): the page asks for the key, keeps
it in the tab's sessionStorage and sends it with every REST call and as the stream's first
message. Only the files shipped here are served, by name; none of this is in the OpenAPI spec."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from ..errors import OrderError

STATIC = Path(__file__).resolve().parent / "static"
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
#: the page talks to this CC only (its API and /v1/stream); the TCA chart is shown from a blob: URL
POLICY = ("default-src 'self'; connect-src 'self'; img-src 'self' blob:; style-src 'self'; script-src 'self'; "
          "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


def _load() -> dict[str, tuple[bytes, str]]:
    """name -> (content, media type), read once: what the package carries is what is served."""
    return {f.name: (f.read_bytes(), MEDIA_TYPES[f.suffix]) for f in sorted(STATIC.iterdir())
            if f.suffix in MEDIA_TYPES}


def dashboard_routes() -> APIRouter:
    r = APIRouter(include_in_schema=False)
    files = _load()
    if "index.html" not in files:
        raise RuntimeError(f"the dashboard's files are missing from {STATIC}: is the package data installed?")

    def serve(name: str) -> Response:
        found = files.get(name)
        if found is None:
            raise OrderError("NOT_FOUND", f"the dashboard has no file {name!r}", 404)
        return Response(found[0], media_type=found[1], headers=HEADERS)

    @r.get("/ui")
    async def to_index() -> RedirectResponse:
        return RedirectResponse("ui/", status_code=308)  # relative: behind a path prefix too

    @r.get("/ui/")
    async def index() -> Response:
        return serve("index.html")

    @r.get("/ui/{name}")
    async def static_file(name: str) -> Response:
        return serve(name)

    return r
