"""The UI's login, logout and projects pages: HTTP in and out (rules live in the services)."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from capturehub.server.auth import web_session
from capturehub.server.auth.service import InvalidGrant
from capturehub.server.bodies import GuardedRoute
from capturehub.server.captures.intake import CaptureLifecycle
from capturehub.server.context import get_context
from capturehub.server.errors import APIError
from capturehub.server.projects import service as projects
from capturehub.server.projects.schemas import ProjectCreate
from capturehub.server.ui.session import LoginRequired, ThisViewer, Viewer, login_url
from capturehub.server.ui.templating import STATIC_DIR, base_path, render

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)

# Logging in needs a CSRF token too (else another site could log a browser into the
# attacker's account): a random value in a short-lived cookie and in the form, compared.
LOGIN_COOKIE = "capturehub_login"


def _safe_next(request: Request, next_path: str | None) -> str:
    if next_path and next_path.startswith("/") and not next_path.startswith("//"):
        return next_path
    return base_path(request) + "/"


def _cookie_path(request: Request) -> str:
    return base_path(request) + "/"


def _login_page(
    request: Request, *, error: str | None = None, status_code: int = 200, next_path: str = ""
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        status_code=status_code,
        viewer=None,
        login_csrf=token,
        error=error,
        next_path=next_path,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        path=_cookie_path(request),
        httponly=True,
        samesite="lax",
        secure=web_session.is_https(request),
    )
    return response


@router.get("/login/")
def login_page(request: Request, next: str = "") -> Response:
    return _login_page(request, next_path=next)


@router.post("/login/")
def log_in(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _login_page(
            request,
            error="The login form expired; please log in again.",
            status_code=403,
            next_path=next,
        )
    if not username or not password or "\x00" in username + password:
        return _login_page(
            request, error="Enter your user name and password.", status_code=400, next_path=next
        )
    context = get_context(request)
    address = request.client.host if request.client else "unknown"
    try:
        token = web_session.log_in(
            context.db,
            username=username,
            password=password,
            address=address,
            settings=context.settings,
        )
    except InvalidGrant:
        return _login_page(
            request, error="Wrong user name or password.", status_code=401, next_path=next
        )
    except APIError as exc:  # too many failed logins: the throttle's message says how long
        return _login_page(request, error=exc.message, status_code=exc.status_code, next_path=next)
    response = RedirectResponse(_safe_next(request, next), status_code=303)
    web_session.set_session_cookie(
        response,
        request,
        token,
        max_age=context.settings.access_token_ttl_seconds,
        path=_cookie_path(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path=_cookie_path(request))
    return response


@router.post("/logout/")
def log_out(request: Request, viewer: ThisViewer) -> Response:
    web_session.log_out(get_context(request).db, viewer.token)
    response = RedirectResponse(login_url(request), status_code=303)
    web_session.clear_session_cookie(response, request, path=_cookie_path(request))
    return response


def _projects_page(
    request: Request, viewer: Viewer, *, error: str | None = None, status_code: int = 200
) -> Response:
    with get_context(request).db.read() as session:
        rows = projects.list_projects(session, viewer.caller)
    template = "projects_list.html" if request.headers.get("HX-Request") else "projects.html"
    return render(
        request, template, status_code=status_code, viewer=viewer, projects=rows, error=error
    )


@router.get("/")
def projects_page(request: Request, viewer: ThisViewer) -> Response:
    return _projects_page(request, viewer)


@router.post("/projects/")
def create_project(
    request: Request, viewer: ThisViewer, name: Annotated[str, Form()] = ""
) -> Response:
    try:
        with get_context(request).db.session() as session:
            projects.create_project(session, viewer.caller, ProjectCreate(name=name))
    except APIError as exc:
        return _projects_page(request, viewer, error=exc.message, status_code=exc.status_code)
    if request.headers.get("HX-Request"):
        return _projects_page(request, viewer)
    return RedirectResponse(base_path(request) + "/", status_code=303)


@router.post("/projects/{project_uuid}/delete/")
async def delete_project(request: Request, project_uuid: str, viewer: ThisViewer) -> Response:
    lifecycle = CaptureLifecycle(get_context(request))
    try:
        await run_in_threadpool(lifecycle.delete_project, viewer.caller, project_uuid)
    except APIError as exc:
        return _projects_page(request, viewer, error=exc.message, status_code=exc.status_code)
    if request.headers.get("HX-Request"):
        return await run_in_threadpool(_projects_page, request, viewer)
    return RedirectResponse(base_path(request) + "/", status_code=303)


def install_ui(app: FastAPI) -> None:
    """The pages at ``/`` (the API keeps its routes) and their static files at ``/static/``."""
    from capturehub.server.ui import capture_routes, record_page, version_routes

    app.include_router(router)
    app.include_router(capture_routes.router)
    app.include_router(version_routes.router)
    app.include_router(record_page.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired) -> Response:
        if request.headers.get("HX-Request"):
            # htmx follows a redirect inside the fragment; send the whole page to the login.
            return Response(status_code=204, headers={"HX-Redirect": login_url(request)})
        return RedirectResponse(login_url(request, exc.next_path), status_code=303)
