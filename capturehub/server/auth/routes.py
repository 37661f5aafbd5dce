"""``oauth/token/`` and ``team-info/``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import JSONResponse

from capturehub.server.auth import service
from capturehub.server.auth.deps import Context, CurrentCaller
from capturehub.server.formats import timestamp
from capturehub.server.models import Team

router = APIRouter(tags=["auth"])


def _oauth_error(error: str, description: str, status_code: int = 400) -> JSONResponse:
    return JSONResponse(
        {
            "error": error,
            "error_description": description,
            "status": status_code,
            "detail": description,
        },
        status_code=status_code,
    )


@router.post(
    "/oauth/token/",
    summary="Log in (password grant) or refresh an access token (refresh_token grant)",
    responses={400: {"description": "invalid_grant / unsupported_grant_type"}},
)
def token(
    context: Context,
    grant_type: Annotated[str, Form()],
    username: Annotated[str | None, Form()] = None,
    password: Annotated[str | None, Form()] = None,
    refresh_token: Annotated[str | None, Form()] = None,
    # Public clients: an id/secret may come (as Basic auth or form fields) but is not checked;
    # the user's password or refresh token is what authenticates (wire-api §2).
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
) -> Any:
    try:
        if grant_type == "password":
            if not username or password is None:
                return _oauth_error("invalid_request", "username and password are required.")
            if "\x00" in username or "\x00" in password:
                return _oauth_error("invalid_grant", "Invalid credentials given.")
            try:
                with context.db.session() as session:
                    issued = service.login(session, username, password, context.settings)
            except service.InvalidGrant as exc:
                with context.db.session() as session:
                    service.record_failed_login(session, username)
                return _oauth_error("invalid_grant", exc.description)
        elif grant_type == "refresh_token":
            if not refresh_token:
                return _oauth_error("invalid_grant", "refresh_token is required.")
            with context.db.session() as session:
                issued = service.refresh(session, refresh_token, context.settings)
        else:
            return _oauth_error(
                "unsupported_grant_type",
                f"grant_type {grant_type!r} is not supported; use password or refresh_token.",
            )
    except service.InvalidGrant as exc:
        return _oauth_error("invalid_grant", exc.description)
    return {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "refresh_token": issued.refresh_token,
        "scope": "read write",
    }


@router.get("/team-info/", summary="The caller's team")
def team_info(caller: CurrentCaller, context: Context) -> dict[str, Any]:
    with context.db.read() as session:
        team = session.get(Team, caller.team_id)
        assert team is not None  # a caller always belongs to a team (FK, cascade)
        return {
            "name": team.name,
            "uuid": team.uuid,
            "created_at": timestamp(team.created_at),
            "user": caller.username,
        }
