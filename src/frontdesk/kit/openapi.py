"""The OpenAPI document describes the answers routes really give, errors included: each
operation lists the error statuses its dependencies and parameters can produce, all with the
one error body. Tests hold the app to it (tests/test_openapi.py runs schemathesis)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

try:  # FastAPI ≥ 0.160 nests included routers; before, app.routes was already flat.
    from fastapi.routing import iter_route_contexts
except ImportError:  # pragma: no cover
    iter_route_contexts = None  # type: ignore[assignment]

from frontdesk.kit.schemas import ErrorBody

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
DESCRIPTIONS = {
    401: "Missing, invalid or expired bearer token",
    403: "The caller may not do this",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the current state",
    413: "Request body or attachment too large",
    422: "Invalid input (code `invalid` with `details`) or a broken domain rule",
    429: "Too many requests: try again later",
}


BINARY = {"schema": {"type": "string", "format": "binary"}}
# A stored file: downloads as application/octet-stream (never sniffed, never rendered).
FILE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": BINARY}, "description": "The file"}
}
# An original mail, byte for byte.
EML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"message/rfc822": BINARY}, "description": "The mail (.eml)"}
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for error statuses a route gives beyond the ones found automatically
    (e.g. 409 where a service raises Conflict)."""
    return {code: {"model": ErrorBody, "description": DESCRIPTIONS[code]} for code in codes}


def install(app: FastAPI, *, authenticated: Callable[..., Any], admin: Callable[..., Any]) -> None:
    """Generate the document once, adding to every operation: 401 where a route needs
    `authenticated`, 403 where it needs `admin`, 404 with path parameters, 422 with any
    parameter or body, 413 with a body. FastAPI's own 422 schema is replaced by ours."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, routes=app.routes, description=None
            )
            _describe_errors(document, app, authenticated, admin)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _describe_errors(
    document: dict[str, Any],
    app: FastAPI,
    authenticated: Callable[..., Any],
    admin: Callable[..., Any],
) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    described = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(described.pop("$defs", {}))
    schemas["ErrorBody"] = described
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = document["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for code in _error_codes(route, authenticated, admin):
                responses.setdefault(str(code), {"description": DESCRIPTIONS[code]})
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
                    response["description"] = DESCRIPTIONS.get(int(code), "Error")


def api_routes(app: FastAPI) -> Iterator[Any]:
    """Every HTTP route of the app as FastAPI sees it (path_format, methods, dependant…)."""
    routes = iter_route_contexts(app.routes) if iter_route_contexts is not None else app.routes
    for route in routes:
        if isinstance(getattr(route, "original_route", route), APIRoute):
            yield route


def _error_codes(
    route: Any, authenticated: Callable[..., Any], admin: Callable[..., Any]
) -> set[int]:
    calls = {dependant.call for dependant in _walk(route.dependant)}
    params = [
        param
        for dependant in _walk(route.dependant)
        for param in (*dependant.path_params, *dependant.query_params, *dependant.header_params)
    ]
    has_body = any(dependant.body_params for dependant in _walk(route.dependant))
    codes: set[int] = set()
    if authenticated in calls:
        codes.add(401)
    if admin in calls:
        codes.add(403)
    if any(dependant.path_params for dependant in _walk(route.dependant)):
        codes.add(404)
    if params or has_body:
        codes.add(422)
    if has_body:
        codes.add(413)
    return codes


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for child in dependant.dependencies:
        yield from _walk(child)
