"""``oauth/token/``, ``oauth/revoke_token/`` and ``team-info/``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse

from capturehub.server.auth import service
from capturehub.server.auth.deps import Context, CurrentCaller
from capturehub.server.bodies import GuardedRoute
from capturehub.server.formats import timestamp
from capturehub.server.models import Team

router = APIRouter(route_class=GuardedRoute, tags=["auth"])


# Answers that carry (or refuse) credentials must not be kept by a browser or a proxy cache
# (RFC 6749 §5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _client_address(request: Request) -> str:
    # Behind a trusted proxy this is already the forwarded client (see server/proxies.py).
    return request.client.host if request.client else "unknown"


def _oauth_error(error: str, description: str, status_code: int = 400) -> JSONResponse:
    return JSONResponse(
        {
            "error": error,
            "error_description": description,
            "status": status_code,
            "detail": description,
        },
        status_code=status_code,
        headers=NO_STORE,
    )


@router.post(
    "/oauth/token/",
    summary="Log in (password grant) or refresh an access token (refresh_token grant)",
    responses={400: {"description": "invalid_grant / unsupported_grant_type"}},
)
def token(
    request: Request,
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
            issued = service.login(
                context.db,
                username=username,
                password=password,
                address=_client_address(request),
                settings=context.settings,
            )
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
    body = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "refresh_token": issued.refresh_token,
        "scope": "read write",
    }
    return JSONResponse(body, headers=NO_STORE)


@router.post(
    "/oauth/revoke_token/",
    summary="Revoke an access token, refresh token or API key (log out; RFC 7009)",
    responses={200: {"description": "Revoked, or unknown (nothing to do)."}},
)
def revoke_token(
    context: Context,
    token: Annotated[str, Form(description="The token to revoke.")],
    # Accepted and not needed: every kind of token is looked for (RFC 7009 §2.1).
    token_type_hint: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
) -> Any:
    # Holding the token is the right to revoke it; an unknown token is answered 200 too, so
    # the answer tells nothing about which tokens exist.
    if token and "\x00" not in token:
        with context.db.session() as session:
            service.revoke_token(session, token)
    return JSONResponse({}, headers=NO_STORE)


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
