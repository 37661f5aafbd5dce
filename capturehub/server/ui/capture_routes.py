"""The UI's project, capture table and capture pages: HTTP in and out."""

from __future__ import annotations

from fastapi import APIRouter

from capturehub.server.bodies import GuardedRoute

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)
