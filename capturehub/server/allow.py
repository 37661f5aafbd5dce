"""Every method a path allows in a ``405 Method Not Allowed`` answer's ``Allow`` header.

The router answers a method that no route of the path accepts with the ``Allow`` of the
*first* route whose path matched, and FastAPI makes one route per function: ``DELETE
project/`` said ``Allow: GET`` although ``POST`` is served there too, and ``POST
project/{p}/capture/{c}/`` said ``GET`` although ``PUT``, ``PATCH`` and ``DELETE`` are.
RFC 9110 §15.5.6 asks for the path's whole set. This wraps the handler that gives Starlette's
HTTP errors the error shape (capturehub/server/errors.py), so the body stays the same and only
the header is completed, from the same routes the request was matched against.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from typing import Any

import fastapi.routing
from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, get_route_path
from starlette.types import Scope

# The order RFC 9110 lists them in; anything else sorts after, alphabetically.
_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")


def served_routes(routes: Sequence[BaseRoute]) -> Iterator[Any]:
    """Every route as served, included routers flattened.

    Recent FastAPI versions keep an included router as one entry of ``app.routes`` and expose
    its routes (with the prefix, tags and dependencies of the inclusion applied) through
    ``iter_route_contexts``; older versions copy them into ``app.routes``. Either way, what
    comes out has the route's ``path_format``, ``path_regex`` and ``methods`` (and, for API
    routes, its ``dependant``).
    """
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    yield from iterate(routes) if iterate is not None else routes


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """The methods some route serves at the scope's path, in the usual order."""
    path = get_route_path(scope)
    methods: set[str] = set()
    for route in served_routes(routes):
        regex = getattr(route, "path_regex", None)
        route_methods = getattr(route, "methods", None)
        # Routes without methods (mounts, websockets) are not method-restricted routes.
        if regex is not None and route_methods and regex.match(path):
            methods.update(route_methods)
    return sorted(methods, key=lambda m: (_ORDER.index(m) if m in _ORDER else len(_ORDER), m))


def install_allow_header(app: FastAPI) -> None:
    """Call after the error handlers are installed: this wraps theirs."""
    shape_error = app.exception_handlers[StarletteHTTPException]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 405:
            methods = allowed_methods(app.routes, request.scope)
            if methods:
                headers = {**(exc.headers or {}), "Allow": ", ".join(methods)}
                exc = StarletteHTTPException(405, detail=exc.detail, headers=headers)
        response = shape_error(request, exc)
        if inspect.isawaitable(response):
            response = await response
        assert isinstance(response, Response)
        return response

    app.add_exception_handler(StarletteHTTPException, http_error)
