"""The dependency every authenticated route declares: who is calling.

Routes declare :data:`CurrentCaller`. The busiest read routes (the capture list, one capture)
declare only :data:`Credentials` and check them with :func:`caller_of` inside their own read
session: that spares them a second pool checkout (with its ping) and a thread hop, about a
millisecond a request on PostgreSQL. :func:`current_caller` authenticates in a session of its
own, and as that is one statement it runs without a transaction (``read(snapshot=False)``).
Either way the OpenAPI document declares the route's 401, since both depend on
:data:`bearer_scheme`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from capturehub.server.auth.service import (
    Caller,
    ProjectHead,
    authenticate,
    authenticate_for_project,
)
from capturehub.server.auth.web_session import cookie_credentials
from capturehub.server.context import AppContext, context_dependency
from capturehub.server.errors import NotFound, Unauthorized


class BearerOrSession(HTTPBearer):
    """The bearer token of the Authorization header; without one, the web UI's session cookie
    (auth/web_session.py: a state-changing request must then carry its CSRF token, else 403)."""

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        credentials = await super().__call__(request)
        if credentials is not None:
            return credentials
        return cookie_credentials(request)


# auto_error=False: a missing header must give our 401 shape, not FastAPI's 403. The OpenAPI
# scheme keeps its name "HTTPBearer": API clients use the bearer token; the cookie is only the
# web UI's, so generated clients and the documented security scheme do not change.
bearer_scheme = BearerOrSession(
    auto_error=False, scheme_name="HTTPBearer", description="An access token or an API key."
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def caller_of(session: Session, credentials: HTTPAuthorizationCredentials | None) -> Caller:
    """The caller behind the request's bearer token, looked up in ``session``; else 401."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized()
    caller = authenticate(session, credentials.credentials)
    if caller is None:
        raise Unauthorized("The access token or API key is invalid or expired; log in again.")
    return caller


def caller_and_project(
    session: Session, credentials: HTTPAuthorizationCredentials | None, project_uuid: str
) -> tuple[Caller, ProjectHead]:
    """:func:`caller_of` and the caller's project ``project_uuid`` (else the 404 of
    ``projects.service.get_project``), read in one statement."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized()
    found = authenticate_for_project(session, credentials.credentials, project_uuid)
    if found is None:
        raise Unauthorized("The access token or API key is invalid or expired; log in again.")
    caller, project = found
    if project is None:
        raise NotFound(f"Project {project_uuid} not found.")
    return caller, project


def current_caller(
    request: Request,
    credentials: Credentials,
    context: Annotated[AppContext, Depends(context_dependency)],
) -> Caller:
    known: Caller | None = getattr(request.state, "caller", None)
    if known is not None:
        return known  # authenticated already, before the body was read (server/bodies.py)
    if credentials is None or not credentials.credentials:
        raise Unauthorized()  # before taking a connection
    with context.db.read(snapshot=False) as session:
        caller = caller_of(session, credentials)
    request.state.caller = caller
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]
Context = Annotated[AppContext, Depends(context_dependency)]
