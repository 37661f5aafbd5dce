"""``project/{p}/capture/{c}/plot/``: HTTP in and out; the rules live in service.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from capturehub.server.auth.deps import Context, CurrentCaller
from capturehub.server.bodies import GuardedRoute
from capturehub.server.errors import conflict
from capturehub.server.plots import service
from capturehub.server.plots.service import DEFAULT_BUCKETS, MAX_BUCKETS, WindowRequest

router = APIRouter(route_class=GuardedRoute, tags=["captures"])


@router.get(
    "/project/{project_uuid}/capture/{capture_uuid}/plot/",
    summary="The plot of a window of samples: the samples, or min/max per bucket",
    description="Samples `start <= i < end` (clipped to the capture) of the chosen channels. "
    "A window of at most `buckets` samples is answered with the samples (`resolution: raw`, "
    "`values`); a longer one with `buckets` buckets of about equal width (`resolution: "
    "buckets`), each channel's minimum and maximum in each (`min`, `max`), so a one-sample "
    "spike shows at every zoom. `index` holds each sample's or bucket's first sample index. "
    "NaN is null. A capture not processed yet is a 409. See docs/api.md.",
    responses=conflict("The capture is not processed (yet)."),
)
def plot_window(
    project_uuid: str,
    capture_uuid: str,
    caller: CurrentCaller,
    context: Context,
    start: Annotated[int | None, Query(ge=0, description="first sample index (0)")] = None,
    end: Annotated[
        int | None, Query(ge=0, description="sample index past the window (the total)")
    ] = None,
    buckets: Annotated[
        int, Query(ge=1, le=MAX_BUCKETS, description="number of buckets, 1 to 4000")
    ] = DEFAULT_BUCKETS,
    channels: Annotated[
        str | None, Query(description="comma-separated channel names (all)")
    ] = None,
) -> Response:
    body = service.plot_window(
        context,
        caller,
        project_uuid,
        capture_uuid,
        WindowRequest(start=start, end=end, buckets=buckets, channels=channels),
    )
    return Response(service.window_body(body), media_type="application/json")
