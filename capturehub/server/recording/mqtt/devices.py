"""Devices that record over MQTT: their keys, who they record as, and which capture each of
their recordings became.

A device key is made through the API (or ``capturehub device create``) for one project and one
device name. The name is the device's topic level (``capturehub/<device>/...``); the key goes
in every message (the MQTT v5 user property ``capturehub-key``) and must belong to the device
the topic names, so a topic alone opens nothing and a device writes only its own recordings,
in its own project. Keys are 256-bit random values stored as their SHA-256, like API keys.
"""

from __future__ import annotations

import re
import secrets as random
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from capturehub.server.auth import secrets
from capturehub.server.auth.service import Caller
from capturehub.server.context import AppContext
from capturehub.server.db import Database
from capturehub.server.errors import BadRequest, Conflict, NotFound
from capturehub.server.formats import timestamp
from capturehub.server.models import (
    Capture,
    Project,
    RecordingDevice,
    RecordingDeviceCapture,
    User,
)
from capturehub.server.projects.service import get_project

DEVICE_KEY_PREFIX = "chd_"
# One MQTT topic level, readable in a capture name: no '/', '+', '#' or spaces.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# How long a key, once checked, is trusted without asking the database again: a deleted
# device stops recording within this time.
KEY_CACHE_SECONDS = 30.0


def check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise BadRequest(
            f"{what} {str(name)[:80]!r} must be 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (it is one MQTT topic level)."
        )
    return name


@dataclass(frozen=True)
class DeviceInfo:
    name: str
    project_uuid: str
    key_prefix: str
    created_by: str
    created_at: datetime

    def to_json(self, topic_prefix: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "project_uuid": self.project_uuid,
            "key_prefix": self.key_prefix,
            "created_by": self.created_by,
            "created_at": timestamp(self.created_at),
            "topic": f"{topic_prefix}/{self.name}/capture/{{id}}/{{start,samples,stop}}",
        }


@dataclass(frozen=True)
class Device:
    """An authenticated device: whose rights it records with, into which project."""

    id: int
    name: str
    project_uuid: str
    caller: Caller


def create_device(
    context: AppContext, caller: Caller, project_uuid: str, name: str
) -> tuple[DeviceInfo, str]:
    """A device of the caller's project and its key (shown once). Creating a device that
    exists in the same project gives it a new key (the old one stops working)."""
    check_name(name, "The device name")
    key = DEVICE_KEY_PREFIX + random.token_urlsafe(32)
    key_hash, prefix = secrets.hash_secret(key), key[:10]
    try:
        with context.db.session() as session:
            project = get_project(session, caller, project_uuid)
            device = session.scalar(
                select(RecordingDevice).where(RecordingDevice.name == name).with_for_update()
            )
            if device is not None and device.project_id != project.id:
                raise Conflict(
                    f"A device named {name!r} exists already (in this project or another: a "
                    "device name is its MQTT topic level, unique on this server). "
                    "Choose another name."
                )
            if device is None:
                device = RecordingDevice(name=name, project_id=project.id)
                session.add(device)
            device.user_id = caller.user_id
            device.key_hash = key_hash
            device.prefix = prefix
            session.flush()
            info = DeviceInfo(
                name=name,
                project_uuid=project.uuid,
                key_prefix=prefix,
                created_by=caller.username,
                created_at=device.created_at,
            )
    except IntegrityError as exc:  # the same name made at the same moment
        raise Conflict(f"A device named {name!r} was created at the same time.") from exc
    return info, key


def list_devices(context: AppContext, caller: Caller, project_uuid: str) -> list[DeviceInfo]:
    with context.db.read() as session:
        project = get_project(session, caller, project_uuid)
        rows = session.execute(
            select(RecordingDevice, User.username)
            .join(User, User.id == RecordingDevice.user_id)
            .where(RecordingDevice.project_id == project.id)
            .order_by(RecordingDevice.name)
        ).all()
        return [
            DeviceInfo(
                name=device.name,
                project_uuid=project.uuid,
                key_prefix=device.prefix,
                created_by=username,
                created_at=device.created_at,
            )
            for device, username in rows
        ]


def delete_device(context: AppContext, caller: Caller, project_uuid: str, name: str) -> None:
    """Forget a device and its key; its captures stay."""
    with context.db.session() as session:
        project = get_project(session, caller, project_uuid)
        device = session.scalar(
            select(RecordingDevice).where(
                RecordingDevice.name == name, RecordingDevice.project_id == project.id
            )
        )
        if device is None:
            raise NotFound(f"Device {name!r} not found in this project.")
        session.delete(device)


class DeviceKeys:
    """Checks device keys for the subscriber, remembering good ones for a short while (a
    batch per message would otherwise cost a query of its own)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._known: dict[str, tuple[float, Device]] = {}
        self._lock = threading.Lock()

    def device(self, key: str | None) -> Device | None:
        """The device of ``key``, or None (unknown, deleted, or its user gone)."""
        if not key or not key.startswith(DEVICE_KEY_PREFIX):
            return None
        key_hash = secrets.hash_secret(key)
        now = time.monotonic()
        with self._lock:
            known = self._known.get(key_hash)
        if known is not None and now - known[0] < KEY_CACHE_SECONDS:
            return known[1]
        with self._db.read(snapshot=False) as session:
            row = session.execute(
                select(
                    RecordingDevice.id,
                    RecordingDevice.name,
                    Project.uuid,
                    User.id,
                    User.team_id,
                    User.username,
                )
                .join(Project, Project.id == RecordingDevice.project_id)
                .join(User, User.id == RecordingDevice.user_id)
                .where(
                    RecordingDevice.key_hash == key_hash,
                    User.is_active,
                    # The user may have moved team since: the key then opens nothing.
                    Project.team_id == User.team_id,
                )
            ).first()
        if row is None:
            with self._lock:
                self._known.pop(key_hash, None)
            return None
        device = Device(
            id=row[0],
            name=row[1],
            project_uuid=row[2],
            caller=Caller(user_id=row[3], team_id=row[4], username=row[5]),
        )
        with self._lock:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[key_hash] = (now, device)
        return device


def recording_capture(db: Database, device: Device, recording_id: str) -> str | None:
    """The uuid of the capture the device's recording ``recording_id`` became, if any."""
    with db.read(snapshot=False) as session:
        return session.scalar(
            select(Capture.uuid)
            .join(RecordingDeviceCapture, RecordingDeviceCapture.capture_id == Capture.id)
            .where(
                RecordingDeviceCapture.device_id == device.id,
                RecordingDeviceCapture.recording_id == recording_id,
            )
        )


def remember_recording(db: Database, device: Device, recording_id: str, capture_uuid: str) -> None:
    with db.session() as session:
        capture_id = session.scalar(select(Capture.id).where(Capture.uuid == capture_uuid))
        if capture_id is None:
            return  # deleted at once: nothing to remember
        session.add(
            RecordingDeviceCapture(
                device_id=device.id, recording_id=recording_id, capture_id=capture_id
            )
        )
