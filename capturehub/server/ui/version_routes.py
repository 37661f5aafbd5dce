"""The UI's dataset versions: make one from the capture table's filter, see one, delete one.
HTTP in and out; the rules live in capturehub/server/versions/service.py.

Forms work with htmx (the answer is a fragment swapped into the page) and without it (a
redirect, or the page again with the message)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from capturehub.server.bodies import GuardedRoute
from capturehub.server.captures.schemas import TASK_STATES
from capturehub.server.context import get_context
from capturehub.server.errors import APIError, NotFound
from capturehub.server.ui import versions_page
from capturehub.server.ui.capture_table import PAGE_SIZES, TableParams, load_table, version_where
from capturehub.server.ui.session import ThisViewer, Viewer
from capturehub.server.ui.templating import base_path, not_found_page, render
from capturehub.server.versions import service as versions

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


def _is_htmx(request: Request) -> bool:
    return bool(request.headers.get("HX-Request"))


@router.post("/projects/{project_uuid}/versions/")
def make_version(
    request: Request,
    project_uuid: str,
    viewer: ThisViewer,
    version_name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    state: Annotated[str, Form()] = "",
    where: Annotated[str, Form()] = "",
) -> Response:
    """A version of the captures the table's filter (``name``, ``state``, ``where``: the
    table's own parameters, sent by the table) selects."""
    params = TableParams.of({"name": name, "state": state, "where": where})
    context = get_context(request)
    try:
        version = versions.create_version(
            context,
            viewer.caller,
            project_uuid,
            name=version_name.strip(),
            description=description.strip(),
            where=version_where(params),
        )
    except NotFound:
        return not_found_page(request, viewer, "No such project in your team.")
    except APIError as exc:
        if _is_htmx(request):
            return render(
                request, "version_outcome.html", status_code=exc.status_code, error=exc.message
            )
        return _captures_page(request, viewer, project_uuid, params, exc)
    row = versions_page.VersionRow(version)
    if _is_htmx(request):
        return render(
            request, "version_outcome.html", status_code=201, project_uuid=project_uuid, made=row
        )
    return RedirectResponse(_version_url(request, project_uuid, version.uuid), status_code=303)


def _captures_page(
    request: Request, viewer: Viewer, project_uuid: str, params: TableParams, error: APIError
) -> Response:
    """The capture table again (no htmx), with why the version was not made."""
    with get_context(request).db.read() as session:
        table = load_table(session, viewer.caller, project_uuid, params)
    return render(
        request,
        "captures.html",
        status_code=error.status_code,
        viewer=viewer,
        table=table,
        states=TASK_STATES,
        page_sizes=PAGE_SIZES,
        version_error=error.message,
    )


def _version_url(request: Request, project_uuid: str, version_uuid: str) -> str:
    return f"{base_path(request)}/projects/{project_uuid}/versions/{version_uuid}/"


@router.get("/projects/{project_uuid}/versions/{version}/")
def version_view(request: Request, project_uuid: str, version: str, viewer: ThisViewer) -> Response:
    try:
        with get_context(request).db.read() as session:
            view = versions_page.load_version(session, viewer.caller, project_uuid, version)
    except NotFound:
        return not_found_page(request, viewer, "No such version in your team's projects.")
    return render(request, "version.html", viewer=viewer, view=view)


@router.post("/projects/{project_uuid}/versions/{version}/delete/")
def delete_version(
    request: Request, project_uuid: str, version: str, viewer: ThisViewer
) -> Response:
    """Deletes the version; from the project page (htmx) the answer is its list of versions
    again, else a redirect to the project page."""
    context = get_context(request)
    notice = error = None
    try:
        with context.db.read() as session:
            shown = versions.get_version(session, viewer.caller, project_uuid, version).name
        versions.delete_version(context, viewer.caller, project_uuid, version)
        notice = f"Deleted version {shown}."
    except NotFound:
        if not _is_htmx(request):
            return not_found_page(request, viewer, "No such version in your team's projects.")
        error = "That version no longer exists (deleted meanwhile?)."
    if not _is_htmx(request):
        return RedirectResponse(
            f"{base_path(request)}/projects/{project_uuid}/#versions-heading", status_code=303
        )
    try:
        with context.db.read() as session:
            rows = versions_page.project_versions(session, viewer.caller, project_uuid)
    except NotFound:
        return not_found_page(request, viewer, "No such project in your team.")
    return render(
        request,
        "versions_list.html",
        viewer=viewer,
        project_uuid=project_uuid,
        versions=rows,
        notice=notice,
        error=error,
    )


@router.get("/projects/{project_uuid}/version-diff/")
def version_diff(
    request: Request,
    project_uuid: str,
    viewer: ThisViewer,
    old: Annotated[str, Query(alias="from")] = "",
    new: Annotated[str, Query(alias="to")] = "",
) -> Response:
    """What changed from one version (``from``) to another (``to``): names or uuids."""
    if not old or not new:
        return not_found_page(request, viewer, "Choose two versions to compare.")
    try:
        with get_context(request).db.read() as session:
            view = versions_page.load_diff(session, viewer.caller, project_uuid, old, new)
    except NotFound:
        return not_found_page(request, viewer, "No such version in your team's projects.")
    return render(
        request, "version_diff.html", viewer=viewer, view=view, limit=versions_page.MAX_LISTED
    )
