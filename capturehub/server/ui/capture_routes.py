"""The UI's project, capture table and capture pages: HTTP in and out.

A project or capture of another team (or none) is a 404 page, as in the API: the pages never
tell whether it exists."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from capturehub.server.bodies import GuardedRoute
from capturehub.server.captures.schemas import TASK_STATES
from capturehub.server.context import get_context
from capturehub.server.errors import NotFound
from capturehub.server.ui import capture_page, project_page, versions_page
from capturehub.server.ui.capture_table import PAGE_SIZES, TableParams, load_table
from capturehub.server.ui.session import ThisViewer
from capturehub.server.ui.templating import not_found_page, render

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


@router.get("/projects/{project_uuid}/")
def project_overview(request: Request, project_uuid: str, viewer: ThisViewer) -> Response:
    try:
        with get_context(request).db.read() as session:
            overview = project_page.load_overview(session, viewer.caller, project_uuid)
            versions = versions_page.project_versions(session, viewer.caller, project_uuid)
    except NotFound:
        return not_found_page(request, viewer, "No such project in your team.")
    return render(request, "project.html", viewer=viewer, overview=overview, versions=versions)


@router.get("/projects/{project_uuid}/captures/")
def capture_table(request: Request, project_uuid: str, viewer: ThisViewer) -> Response:
    params = TableParams.of(request.query_params)
    try:
        with get_context(request).db.read() as session:
            table = load_table(session, viewer.caller, project_uuid, params)
    except NotFound:
        return not_found_page(request, viewer, "No such project in your team.")
    # A history restore (the back button) wants the whole page, not the fragment.
    fragment = request.headers.get("HX-Request") and not request.headers.get(
        "HX-History-Restore-Request"
    )
    return render(
        request,
        "capture_table.html" if fragment else "captures.html",
        status_code=400 if table.error else 200,
        viewer=viewer,
        table=table,
        states=TASK_STATES,
        page_sizes=PAGE_SIZES,
    )


@router.get("/projects/{project_uuid}/captures/{capture_uuid}/")
def capture_view(
    request: Request, project_uuid: str, capture_uuid: str, viewer: ThisViewer
) -> Response:
    try:
        with get_context(request).db.read() as session:
            view = capture_page.load_capture(session, viewer.caller, project_uuid, capture_uuid)
    except NotFound:
        return not_found_page(request, viewer, "No such capture in your team's projects.")
    return render(request, "capture.html", viewer=viewer, view=view)
