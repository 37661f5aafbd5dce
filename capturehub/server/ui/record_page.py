"""The Record page: a phone records its motion sensors into a new capture of a project.

The page is a form and a script (static/js/record.js): the script starts the recording through
the REST API, streams the readings over the recording's WebSocket, stops it and labels it. The
server only lists the projects to choose from."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from capturehub.server.bodies import GuardedRoute
from capturehub.server.context import get_context
from capturehub.server.projects import service as projects
from capturehub.server.ui.session import ThisViewer
from capturehub.server.ui.templating import render

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)

# What DeviceMotionEvent reports, as the channels they become: (sensor, channel names, units).
MOTION_SENSORS = (
    (
        "accelerationIncludingGravity",
        "Acceleration with gravity",
        ("AccelerometerX", "AccelerometerY", "AccelerometerZ"),
        "m/s^2",
    ),
    (
        "acceleration",
        "Acceleration without gravity",
        ("LinearAccelerationX", "LinearAccelerationY", "LinearAccelerationZ"),
        "m/s^2",
    ),
    (
        "rotationRate",
        "Rotation rate",
        ("RotationRateAlpha", "RotationRateBeta", "RotationRateGamma"),
        "deg/s",
    ),
)


@router.get("/record/")
def record_page(request: Request, viewer: ThisViewer, project: str = "") -> Response:
    with get_context(request).db.read() as session:
        rows = projects.list_projects(session, viewer.caller)
    return render(
        request,
        "record.html",
        viewer=viewer,
        projects=rows,
        selected=project,
        sensors=MOTION_SENSORS,
    )
