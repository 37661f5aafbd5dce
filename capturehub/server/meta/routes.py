"""``version/``, ``healthz/``, ``transform/`` and ``platforms/v2`` (wire-api §3)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from capturehub._version import __version__
from capturehub.server.auth.deps import Context, CurrentCaller
from capturehub.server.bodies import GuardedRoute

router = APIRouter(route_class=GuardedRoute, tags=["server"])

# capturehub has no transform library. The SensiML SDK only needs the list to be well formed,
# so it holds, honestly, the one data-processing function capturehub does run: the per-channel
# statistics computed for every processed capture.
TRANSFORMS: list[dict[str, Any]] = [
    {
        "uuid": "6f1c2a4e-8d55-4b51-9a59-0c7d3e1f2a01",
        "type": "Transform",
        "subtype": "Statistics",
        "name": "Channel Statistics",
        "description": "Per-channel count, min, max, mean, population standard deviation and "
        "NaN count, computed by capturehub when a capture is processed. It is reported on "
        "each capture (the `statistics` field); it cannot be run as a pipeline step.",
        "input_contract": [],
        "output_contract": [],
        "has_c_version": False,
        "library_pack": None,
        "automl_available": False,
    }
]


@router.get("/version/", summary="Server name and version (no authentication)")
def version() -> dict[str, str]:
    return {"name": "capturehub", "version": __version__}


@router.get("/healthz/", summary="Liveness and database check (no authentication)")
def health(context: Context) -> dict[str, str]:
    from sqlalchemy import text

    with context.db.read() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/transform/", summary="Data-processing functions the server offers")
def transforms(_caller: CurrentCaller) -> list[dict[str, Any]]:
    return TRANSFORMS


@router.get("/platforms/v2/", summary="Device platforms (capturehub has none)")
def platforms(_caller: CurrentCaller) -> list[dict[str, Any]]:
    return []
