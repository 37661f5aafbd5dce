"""The dependency every authenticated route declares: who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from capturehub.server.auth.service import Caller, authenticate
from capturehub.server.context import AppContext, get_context
from capturehub.server.errors import Unauthorized

# auto_error=False: a missing header must give our 401 shape, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="An access token or an API key.")


def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    context: Annotated[AppContext, Depends(get_context)],
) -> Caller:
    if credentials is None or not credentials.credentials:
        raise Unauthorized()
    with context.db.read() as session:
        caller = authenticate(session, credentials.credentials)
    if caller is None:
        raise Unauthorized("The access token or API key is invalid or expired; log in again.")
    request.state.caller = caller
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]
Context = Annotated[AppContext, Depends(get_context)]
