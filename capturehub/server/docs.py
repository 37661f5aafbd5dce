"""The browsable API documentation, ``/docs`` (Swagger UI) and ``/redoc``, served entirely by
the server itself.

FastAPI's own pages load Swagger UI and ReDoc from a public CDN, so in a lab without internet
they stay blank. Here the pages reference only the server's own URLs: the assets come from
the ``fastapi-offline`` package (a server dependency that ships Swagger UI's and ReDoc's
built files), and the few lines that start Swagger UI are a script of ours rather than an
inline one, so that the Content-Security-Policy (server/security_headers.py) can forbid
inline scripts on every page.

Every URL in the pages is relative (``docs/assets/...``, ``openapi.json``), so the pages work
whatever prefix the server is reached under (setting ``root_path``).
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from capturehub.server.errors import error_response

ASSETS_PATH = "/docs/assets/"

_STATIC: Traversable = resources.files("fastapi_offline") / "static"

# Served name -> (file in the package, media type).
_PACKAGED = {
    "swagger-ui-bundle.js": ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger-ui.css", "text/css; charset=utf-8"),
    "redoc.standalone.js": ("redoc.standalone.js", "text/javascript; charset=utf-8"),
    "favicon.png": ("favicon.png", "image/png"),
}

# Starts Swagger UI on the element that names the document to show.
START_SWAGGER_UI = """\
window.addEventListener("load", function () {
  var element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: element.getAttribute("data-openapi"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    showExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout"
  });
});
"""

SWAGGER_PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>capturehub API</title>
<link rel="icon" type="image/png" href="docs/assets/favicon.png">
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi="openapi.json"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/start-swagger-ui.js"></script>
</body>
</html>
"""

REDOC_PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>capturehub API</title>
<link rel="icon" type="image/png" href="docs/assets/favicon.png">
</head>
<body>
<redoc spec-url="openapi.json"></redoc>
<script src="docs/assets/redoc.standalone.js"></script>
</body>
</html>
"""


def asset(name: str) -> tuple[bytes, str] | None:
    """The bytes and media type of the asset served as ``docs/assets/<name>``, if any."""
    if name == "start-swagger-ui.js":
        return START_SWAGGER_UI.encode(), "text/javascript; charset=utf-8"
    if name not in _PACKAGED:
        return None
    filename, media = _PACKAGED[name]
    return (_STATIC / filename).read_bytes(), media


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and their assets (create the app with ``docs_url=None`` and
    ``redoc_url=None``)."""

    async def swagger_ui(_request: Request) -> Response:
        return HTMLResponse(SWAGGER_PAGE)

    async def redoc(_request: Request) -> Response:
        return HTMLResponse(REDOC_PAGE)

    async def docs_asset(request: Request) -> Response:
        found = asset(request.path_params["name"])
        if found is None:
            return error_response(404, "No such documentation asset; see /docs.")
        content, media = found
        # Versioned with the installed package: a day of caching is safe and spares reloads.
        return Response(content, media_type=media, headers={"Cache-Control": "max-age=86400"})

    app.add_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_route("/redoc", redoc, methods=["GET"], include_in_schema=False)
    app.add_route(ASSETS_PATH + "{name}", docs_asset, methods=["GET"], include_in_schema=False)
