"""The served OpenAPI document: FastAPI's, less the 422 answer it lists for every route with
parameters. This API never sends that one: its handler answers invalid input 400 with the field
named (rest.py), and each route declares that 400 itself (schemas.answers). A route that does
answer 422 for a reason of its own declares it, and keeps it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_UNSENT = ("HTTPValidationError", "ValidationError")


def without_unsent_422(app: FastAPI) -> None:
    def spec() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            for operations in doc.get("paths", {}).values():
                for operation in operations.values():
                    responses = operation.get("responses", {})
                    if _UNSENT[0] in str(responses.get("422", "")):  # FastAPI's, not a route's own 422
                        del responses["422"]
            schemas = doc.get("components", {}).get("schemas", {})
            for name in _UNSENT:
                schemas.pop(name, None)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = spec  # type: ignore[method-assign]
