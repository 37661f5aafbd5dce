"""Rendering pages: one Jinja2 environment (autoescaped: every user string is escaped), the
pages' own Content-Security-Policy and the links every page needs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from capturehub._version import __version__
from capturehub.server.context import get_context

if TYPE_CHECKING:
    from capturehub.server.ui.session import Viewer

UI_DIR = Path(__file__).parent
STATIC_DIR = UI_DIR / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
VENDOR_FILES = ("htmx.min.js", "uPlot.esm.js", "uPlot.min.css")

# The pages load scripts and styles from the server only, and no inline script or style runs
# (htmx is configured not to add its own <style>, and to evaluate nothing: templates/base.html).
# Scripts set element styles through the DOM (uPlot positions its parts so), which CSP allows.
PAGE_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CONTENT_SECURITY_POLICY,
    # Pages show a team's data: never kept by a shared cache, nor shown from the browser's
    # cache after logging out.
    "Cache-Control": "no-store",
}

environment = Environment(
    loader=FileSystemLoader(UI_DIR / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def base_path(request: Request) -> str:
    """The prefix every link starts with (CAPTUREHUB_ROOT_PATH, or nothing)."""
    return get_context(request).settings.normalized_root_path


def vendor_missing() -> list[str]:
    return [name for name in VENDOR_FILES if not (VENDOR_DIR / name).exists()]


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    values.setdefault("base", base_path(request))
    values.setdefault("version", __version__)
    values.setdefault("vendor_missing", vendor_missing())
    html = environment.get_template(template).render(request=request, **values)
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


def not_found_page(request: Request, viewer: Viewer | None, message: str) -> HTMLResponse:
    """The 404 page every page route answers for what the viewer cannot see (or what is not
    there: the two are not told apart)."""
    return render(request, "not_found.html", status_code=404, viewer=viewer, message=message)
