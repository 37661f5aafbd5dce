"""Lifecycle operations interrupted at one step, for test_crash.py.

``run(context, step, die)`` performs the operation a step belongs to, with ``die`` called in
place of that step. In the test process ``die`` raises (an exception mid-operation); run as
``python -m tests.lifecycle.scenarios`` it ends the process on the spot (``os._exit``, as a
kill would: no cleanup, no ``finally``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from capturehub.server.auth.service import Caller
from capturehub.server.captures import intake, service
from capturehub.server.captures.intake import CaptureLifecycle, UploadDetails
from capturehub.server.context import AppContext
from capturehub.server.runtime import build_context
from capturehub.server.settings import Settings

ORIGINAL = b"ax,ay\n" + b"".join(f"{i},{-i}\n".encode() for i in range(2000))
REPLACEMENT = b"ax,ay\n" + b"".join(f"{i},{2 * i}\n".encode() for i in range(3000))
NEW = b"ax,ay\n" + b"".join(f"{i},{3 * i}\n".encode() for i in range(1000))

# step -> what is done when the process dies there
STEPS = {
    "upload: written, not committed": "upload",
    "upload: committed, row not inserted": "upload",
    "upload: row inserted, not queued": "upload",
    "replace: new file committed, row not changed": "replace",
    "replace: row changed, old file not deleted": "replace",
    "delete: row deleted, files not deleted": "delete",
    "project delete: rows deleted, files not deleted": "delete project",
}


@dataclass
class World:
    """What exists before the interrupted operation: a project with one processed capture."""

    data_dir: str
    database_url: str | None
    user_id: int
    team_id: int
    username: str
    project_uuid: str
    kept_uuid: str

    @property
    def caller(self) -> Caller:
        return Caller(user_id=self.user_id, team_id=self.team_id, username=self.username)

    def settings(self) -> Settings:
        # No workers: the test processes captures itself, as the housekeeping would queue them.
        return Settings(data_dir=Path(self.data_dir), database_url=self.database_url, workers=0)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(context: AppContext, world: World, name: str, data: bytes) -> str:
    lifecycle = CaptureLifecycle(context)
    incoming = lifecycle.incoming_upload(world.caller, world.project_uuid)
    writer = incoming.open_writer()
    writer.write(data)
    capture, _ = lifecycle.receive(
        world.caller,
        world.project_uuid,
        incoming,
        details=UploadDetails(
            name=name,
            format=".csv",
            set_sample_rate=None,
            calculated_sample_rate=None,
            configuration_uuid=None,
            asynchronous=True,
        ),
        file_size=len(data),
        sha256=sha256(data),
    )
    return capture.uuid


def replace(context: AppContext, world: World, data: bytes) -> None:
    lifecycle = CaptureLifecycle(context)
    incoming = lifecycle.incoming_replacement(world.caller, world.project_uuid, world.kept_uuid)
    incoming.open_writer().write(data)
    lifecycle.change(
        world.caller,
        world.project_uuid,
        world.kept_uuid,
        service.CaptureChanges(),
        incoming,
        new_format=".csv",
        file_size=len(data),
        sha256=sha256(data),
    )


Patch = Callable[[object, str, Any], None]


def run(
    context: AppContext, world: World, step: str, die: Callable[..., Any], patch: Patch = setattr
) -> None:
    """Do the operation of ``step`` with ``die`` in place of the step (set with ``patch``:
    pytest's monkeypatch.setattr in the test process, which undoes it afterwards)."""
    lifecycle = CaptureLifecycle(context)
    if step == "upload: written, not committed":
        patch(intake.IncomingFile, "commit", die)
    elif step == "upload: committed, row not inserted":
        patch(service, "store_upload", die)
    elif step == "upload: row inserted, not queued":
        patch(intake, "process_capture_later", die)
    elif step == "replace: new file committed, row not changed":
        patch(service, "update_capture", die)
    elif step in (
        "replace: row changed, old file not deleted",
        "delete: row deleted, files not deleted",
    ):
        patch(context.blobs, "delete", die)
    elif step == "project delete: rows deleted, files not deleted":
        patch(intake, "delete_blobs", die)
    else:
        raise ValueError(step)
    operation = STEPS[step]
    if operation == "upload":
        upload(context, world, "new.csv", NEW)
    elif operation == "replace":
        replace(context, world, REPLACEMENT)
    elif operation == "delete":
        lifecycle.delete(world.caller, world.project_uuid, world.kept_uuid)
    else:
        lifecycle.delete_project(world.caller, world.project_uuid)


def _killed(*_args: Any, **_kwargs: Any) -> None:
    os._exit(137)


if __name__ == "__main__":
    arguments = json.loads(sys.argv[1])
    world = World(**arguments["world"])
    context = build_context(world.settings())
    run(context, world, arguments["step"], _killed)
    raise SystemExit("the operation finished without reaching its step")


def command(world: World, step: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tests.lifecycle.scenarios",
        json.dumps({"world": asdict(world), "step": step}),
    ]
