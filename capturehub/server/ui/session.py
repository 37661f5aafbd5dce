"""Who is looking at a page: the session cookie's caller, or a trip to the login page.

Pages read the caller from the cookie only (never a bearer token: a page is what a browser
asks for). A state-changing page request (a form) must carry the session's CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from capturehub.server.auth.service import Caller, authenticate
from capturehub.server.auth.web_session import (
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    CsrfRefused,
    csrf_matches,
    csrf_token,
    session_token,
)
from capturehub.server.context import get_context
from capturehub.server.ui.templating import base_path


class LoginRequired(Exception):
    """Answered with a redirect to the login page (app-wide handler, ui/routes.py)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True)
class Viewer:
    caller: Caller
    token: str

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)


def _lookup(request: Request, token: str) -> Caller | None:
    with get_context(request).db.read(snapshot=False) as session:
        return authenticate(session, token)


async def current_viewer(request: Request) -> Viewer:
    token = session_token(request)
    caller = await run_in_threadpool(_lookup, request, token) if token else None
    if caller is None:
        path = request.url.path
        if request.url.query:
            path += "?" + request.url.query
        raise LoginRequired(path)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            sent = str((await request.form()).get(CSRF_FIELD) or "")
        if not csrf_matches(token or "", sent):
            raise CsrfRefused()
    return Viewer(caller=caller, token=token or "")


ThisViewer = Annotated[Viewer, Depends(current_viewer)]


def login_url(request: Request, next_path: str | None = None) -> str:
    url = base_path(request) + "/login/"
    if next_path and next_path.startswith("/") and not next_path.startswith("//"):
        url += "?next=" + quote(next_path, safe="/")
    return url
