"""The OpenAPI document (``GET /openapi.json``), made true to what the server answers.

FastAPI builds the document from the routes' signatures, which say little about errors here:
it declares a ``422`` that never happens (capturehub/server/errors.py answers validation
errors with a ``400`` of the one error shape), and nothing of the ``401``/``404``/``409``/
``413``/``429`` the server does answer. :func:`install_openapi` replaces ``app.openapi`` (FastAPI's
documented way to extend the document) with a function that post-processes the generated
document once and caches it in ``app.openapi_schema``.

Each error is declared from a fact the code can be asked about, not from a hand-written list of
routes, so a new route is described correctly without touching this file:

- ``400`` everywhere: request validation; the request guard (capturehub/server/guard.py)
  refuses NUL characters in any URL, and every route taking JSON non-strict JSON
  (capturehub/server/bodies.py).
- ``401`` on every route that takes a bearer token
  (:data:`~capturehub.server.auth.deps.bearer_scheme`, through ``current_caller`` or directly).
- ``404`` on every route with a path parameter: every id in a path is looked up in the caller's
  team, and a miss (or another team's object) is a 404.
- ``413`` on routes that take a file (``multipart/form-data`` with a binary part) and on routes
  that take a JSON or form body (the route's body limit, bulk routes' larger one: settings
  ``max_request_body_bytes`` and ``max_bulk_request_body_bytes``, in MiB as this server has
  them); ``415`` on routes that take JSON (another or no content type).
- ``507`` on every route that writes: the server's disk (its files or its database) filled
  while storing the request; ``503`` everywhere: the database did not answer (both in
  capturehub/server/errors.py).
- ``429`` on the token route: failed logins are throttled per client address and per user
  name from one address (capturehub/server/auth/throttle.py).
- ``409`` where the route declares it (``responses=errors.conflict(...)`` next to the route,
  in the user's words): conflicts come from the services' rules (unique names, a capture
  still being processed, concurrent writes), which no signature shows; this module gives
  them the error shape.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.routing import BaseRoute

from capturehub.server.allow import served_routes
from capturehub.server.auth.deps import bearer_scheme
from capturehub.server.auth.throttle import ADDRESS_FREE_FAILURES, USER_FREE_FAILURES
from capturehub.server.bodies import body_limit, depends_on, is_bulk, limit_text
from capturehub.server.settings import Settings

ERROR = "Error"
OAUTH_ERROR = "OAuthError"
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR}"}
OAUTH_ERROR_REF = {"$ref": f"#/components/schemas/{OAUTH_ERROR}"}

# The one error shape (capturehub/server/errors.py, ``error_response``).
ERROR_SCHEMA: dict[str, Any] = {
    "title": ERROR,
    "type": "object",
    "description": "Every error the server answers has this shape.",
    "required": ["status", "detail"],
    "properties": {
        "status": {"type": "integer", "description": "The HTTP status code, repeated."},
        "detail": {"type": "string", "description": "What went wrong, for a person to read."},
        "data": {
            "type": "object",
            "description": "Validation errors only: the messages for each field at fault.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}

# The token route's refusals follow RFC 6749 §5.2, with the error shape's fields as well
# (capturehub/server/auth/routes.py, ``_oauth_error``), so both kinds of client can read them.
OAUTH_ERROR_SCHEMA: dict[str, Any] = {
    "title": OAUTH_ERROR,
    "description": "An OAuth 2 error (RFC 6749 §5.2) that is also of the error shape.",
    "allOf": [
        ERROR_REF,
        {
            "type": "object",
            "required": ["error", "error_description"],
            "properties": {
                "error": {
                    "type": "string",
                    "enum": ["invalid_request", "invalid_grant", "unsupported_grant_type"],
                },
                "error_description": {"type": "string"},
            },
        },
    ],
}

# FastAPI's validation-error schemas: unused once the 422s are gone.
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")

TOKEN_PATH = "/oauth/token/"

BAD_REQUEST = (
    "The request is not valid: a missing or malformed parameter, field or body (`data` names "
    "each field at fault), or content the server refuses in any request (a NUL character in "
    "the URL; NaN, Infinity or a lone surrogate in a JSON body)."
)
UNAUTHORIZED = (
    "No bearer token or API key was sent, or it is invalid or expired; log in again "
    f"(POST {TOKEN_PATH.lstrip('/')})."
)
NOT_FOUND = (
    "An object named in the path does not exist, or belongs to another team or another "
    "project (the two are not told apart)."
)
STORAGE_FULL = (
    "The server's disk (files or database) is full: nothing was stored. Retry once space is freed."
)
CONFLICT = "The request conflicts with what is stored; see the route's description."
DATABASE_UNAVAILABLE = "The server's database did not answer (unreachable or busy); retry."
FILE_TOO_LARGE = (
    "The file is larger than the server's upload limit (setting CAPTUREHUB_MAX_UPLOAD_BYTES); "
    "refused while it streams."
)
NOT_JSON = (
    "The body is not sent as JSON: send it with `Content-Type: application/json` (a missing "
    "content type is refused too)."
)
TOO_MANY_LOGINS = (
    f"Too many failed logins from the client's address ({ADDRESS_FREE_FAILURES}, whatever the "
    f"user name) or for this user name from that address ({USER_FREE_FAILURES}); each further "
    "failure doubles the wait, up to 15 minutes. Wait as long as Retry-After says."
)
TOKEN_BAD_REQUEST = (
    "The grant is refused (`invalid_request`, `invalid_grant`, `unsupported_grant_type`: an "
    "OAuth 2 error), or a form field is missing or malformed (the error shape)."
)


def install_openapi(app: FastAPI) -> None:
    """Serve the corrected document at ``/openapi.json`` (and in ``/docs``, ``/redoc``)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                terms_of_service=app.terms_of_service,
                contact=app.contact,
                license_info=app.license_info,
                routes=app.routes,
                webhooks=app.webhooks.routes,
                tags=app.openapi_tags,
                servers=app.servers,
                separate_input_output_schemas=app.separate_input_output_schemas,
            )
            app.openapi_schema = describe(document, app.routes, settings=app.state.context.settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def describe(
    document: dict[str, Any], routes: Sequence[BaseRoute], *, settings: Settings
) -> dict[str, Any]:
    """``document`` (as FastAPI generated it from ``routes``) with the server's real errors
    (body limits as ``settings`` has them). Returns a new document."""
    document = copy.deepcopy(document)
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR] = copy.deepcopy(ERROR_SCHEMA)
    components[OAUTH_ERROR] = copy.deepcopy(OAUTH_ERROR_SCHEMA)
    authenticated = {
        (route.path_format, method.lower())
        for route in served_routes(routes)
        if depends_on(getattr(route, "dependant", None), bearer_scheme)
        for method in route.methods or ()
    }
    bulk = {
        (route.path_format, method.lower())
        for route in served_routes(routes)
        if is_bulk(getattr(route, "endpoint", None))
        for method in route.methods or ()
    }
    for path, method, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "query" and parameter["schema"].get("type") == "array":
                # This API's list-valued query parameters are comma-separated (`a,b`), which
                # FastAPI cannot declare.
                parameter.update(style="form", explode=False)
        responses: dict[str, Any] = operation.setdefault("responses", {})
        responses.pop("422", None)
        if path == TOKEN_PATH:
            # Its own refusals are OAuth errors; a missing form field is of the error shape.
            # The route's own description names only the former.
            responses.pop("400", None)
            _declare(responses, 400, TOKEN_BAD_REQUEST, {"anyOf": [OAUTH_ERROR_REF, ERROR_REF]})
            _declare(responses, 429, TOO_MANY_LOGINS, headers=_RETRY_AFTER)
        else:
            _declare(responses, 400, BAD_REQUEST)
        if (path, method) in authenticated:
            _declare(responses, 401, UNAUTHORIZED, headers=_WWW_AUTHENTICATE)
        if any(p.get("in") == "path" for p in operation.get("parameters", [])):
            _declare(responses, 404, NOT_FOUND)
        if "409" in responses:  # declared on the route (errors.conflict): the error shape
            _declare(responses, 409, CONFLICT)
        too_large = [FILE_TOO_LARGE] if _takes_file(operation) else []
        if _takes_json(operation) or _takes_form(operation):
            too_large.append(_body_too_large(settings, bulk=(path, method) in bulk))
        if too_large:
            _declare(responses, 413, " ".join(too_large))
        if _takes_json(operation):
            _declare(responses, 415, NOT_JSON)
        if method not in ("get", "head"):
            _declare(responses, 507, STORAGE_FULL)
        _declare(responses, 503, DATABASE_UNAVAILABLE, headers=_RETRY_AFTER)
        if method == "get" and path.endswith("/file/"):
            # The stored file honours a `Range` header (download.py).
            responses["206"] = {"description": RANGE_PART}
            _declare(responses, 416, RANGE_OUTSIDE)
        operation["responses"] = dict(sorted(responses.items()))
    _drop_unreferenced(components, FASTAPI_VALIDATION_SCHEMAS, document)
    return document


RANGE_PART = "The part of the file a single `Range: bytes=...` header asked for."
RANGE_OUTSIDE = (
    "The `Range` asked for starts past the end of the file (`Content-Range` gives its size)."
)

_WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "description": "`Bearer`: send `Authorization: Bearer <token or API key>`.",
        "schema": {"type": "string"},
    }
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}


def _declare(
    responses: dict[str, Any],
    status: int,
    description: str,
    schema: dict[str, Any] | None = None,
    headers: dict[str, Any] | None = None,
) -> None:
    """Declare an error answer; a description the route gave itself is kept (it is more
    specific), the body is always the error shape. Copies: no two operations share a dict,
    so a consumer that edits one operation of the served document edits only that one."""
    response = responses.setdefault(str(status), {})
    response.setdefault("description", description)
    response["content"] = {"application/json": {"schema": copy.deepcopy(schema or ERROR_REF)}}
    if headers:
        response["headers"] = copy.deepcopy(headers)


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in methods:
                yield path, method, operation


def _takes_file(operation: dict[str, Any]) -> bool:
    content = operation.get("requestBody", {}).get("content", {})
    properties = content.get("multipart/form-data", {}).get("schema", {}).get("properties", {})
    return any(
        prop.get("format") == "binary" or "contentMediaType" in prop for prop in properties.values()
    )


def _body_too_large(settings: Settings, *, bulk: bool) -> str:
    kind = "bulk " if bulk else ""
    setting = f"CAPTUREHUB_MAX{'_BULK' if bulk else ''}_REQUEST_BODY_BYTES"
    return (
        f"The JSON body (or form) is larger than the {kind}limit of "
        f"{limit_text(body_limit(settings, bulk=bulk))} (setting {setting}); refused before "
        "it is read."
    )


def _takes_form(operation: dict[str, Any]) -> bool:
    content = operation.get("requestBody", {}).get("content", {})
    return "application/x-www-form-urlencoded" in content


def _takes_json(operation: dict[str, Any]) -> bool:
    return "application/json" in operation.get("requestBody", {}).get("content", {})


def _drop_unreferenced(
    components: dict[str, Any], names: Sequence[str], document: dict[str, Any]
) -> None:
    for name in names:
        if name not in components:
            continue
        rest = {key: value for key, value in components.items() if key != name}
        elsewhere = {key: value for key, value in document.items() if key != "components"}
        text = json.dumps([elsewhere, rest])
        if f'"#/components/schemas/{name}"' not in text:
            del components[name]
