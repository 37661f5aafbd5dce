"""HTTP routes of the devices that record over MQTT (their keys)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from capturehub.server.auth.deps import Context, CurrentCaller
from capturehub.server.bodies import GuardedRoute
from capturehub.server.errors import conflict
from capturehub.server.recording.mqtt import devices

router = APIRouter(route_class=GuardedRoute, tags=["recordings"])


class NewDevice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        description="The device's name: its MQTT topic level, unique on this server (1 to 64 "
        "letters, digits, '.', '_' or '-')."
    )


@router.post(
    "/project/{project_uuid}/devices/",
    status_code=201,
    summary="Create a device that records over MQTT, or give an existing one a new key",
    description="Answers the device and its `key`, shown only here: the device sends it in "
    "the MQTT v5 user property `capturehub-key` of every message (docs/recording.md#mqtt).",
    responses=conflict("Another project has a device of this name."),
)
def create_device(
    project_uuid: str, body: NewDevice, caller: CurrentCaller, context: Context
) -> dict[str, Any]:
    info, key = devices.create_device(context, caller, project_uuid, body.name)
    return {**info.to_json(context.settings.mqtt_topic_prefix), "key": key}


@router.get("/project/{project_uuid}/devices/", summary="The project's MQTT devices")
def list_devices(project_uuid: str, caller: CurrentCaller, context: Context) -> list[Any]:
    prefix = context.settings.mqtt_topic_prefix
    return [info.to_json(prefix) for info in devices.list_devices(context, caller, project_uuid)]


@router.delete(
    "/project/{project_uuid}/devices/{name}/",
    status_code=204,
    summary="Delete a device: its key stops working (within 30 s); its captures stay",
)
def delete_device(
    project_uuid: str, name: str, caller: CurrentCaller, context: Context
) -> Response:
    devices.delete_device(context, caller, project_uuid, name)
    return Response(status_code=204)
