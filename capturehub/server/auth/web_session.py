"""The browser's login: a cookie session, and its CSRF token.

The web UI logs a person in with the password grant's rules (throttle included) and keeps the
access token it is issued in a cookie: ``HttpOnly`` (page scripts cannot read it), ``SameSite=Lax``
(other sites' forms and scripts do not send it), ``Secure`` when the page came over https. The
refresh token issued with it is revoked at once: the session lasts as long as the access token
(CAPTUREHUB_ACCESS_TOKEN_TTL_SECONDS) and logging in again starts a new one.

Every state-changing request that authenticates with the cookie (the UI's forms, and the API
routes the page scripts call) must carry the session's CSRF token, in the ``X-CSRF-Token``
header or a ``csrf_token`` form field: a cookie alone is refused (403). The CSRF token is a hash
of the session token, so it needs no storage, and knowing it (it is written into the pages)
tells nothing about the session token.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from starlette.requests import HTTPConnection

from capturehub.server.auth import service
from capturehub.server.db import Database
from capturehub.server.errors import APIError
from capturehub.server.settings import Settings

SESSION_COOKIE = "capturehub_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRefused(APIError):
    status_code = 403

    def __init__(self) -> None:
        super().__init__(
            "This request came with the browser's login cookie but without the page's CSRF "
            f"token (the {CSRF_HEADER} header); reload the page and try again."
        )


def csrf_token(session_token: str) -> str:
    return hashlib.sha256(b"capturehub csrf\x00" + session_token.encode()).hexdigest()


def session_token(request: HTTPConnection) -> str | None:
    token = request.cookies.get(SESSION_COOKIE)
    return token or None


def csrf_matches(session: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(csrf_token(session), sent or "")


def cookie_credentials(request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
    """The session cookie as bearer credentials, for a request that sent no Authorization
    header; a state-changing request must also carry the CSRF header (else 403)."""
    token = session_token(request)
    if token is None:
        return None
    if request.scope.get("method") not in SAFE_METHODS and not csrf_matches(
        token, request.headers.get(CSRF_HEADER)
    ):
        raise CsrfRefused()
    return HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)


def log_in(db: Database, *, username: str, password: str, address: str, settings: Settings) -> str:
    """A new session token (an access token) for the user; InvalidGrant or 429 otherwise."""
    issued = service.login(
        db, username=username, password=password, address=address, settings=settings
    )
    with db.session() as session:
        service.drop_refresh_token(session, issued.refresh_token)
    return issued.access_token


def log_out(db: Database, token: str) -> None:
    with db.session() as session:
        service.revoke_token(session, token)


def is_https(request: Request) -> bool:
    # Behind a trusted proxy, uvicorn's proxy headers give the client's scheme.
    return request.url.scheme == "https"


def set_session_cookie(
    response: Response, request: Request, token: str, *, max_age: int, path: str
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def clear_session_cookie(response: Response, request: Request, *, path: str) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path=path, httponly=True, samesite="lax", secure=is_https(request)
    )
