"""Small helpers shared by the server tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx


def upload(
    api: httpx.Client,
    project_uuid: str,
    path: Path,
    *,
    name: str | None = None,
    asynchronous: bool = True,
    **fields: str,
) -> httpx.Response:
    with open(path, "rb") as handle:
        return api.post(
            f"project/{project_uuid}/capture/",
            data={"name": name or path.name, "asynchronous": str(asynchronous), **fields},
            files={"file": (path.name, handle)},
        )


def wait_done(
    api: httpx.Client, project_uuid: str, capture_uuid: str, timeout: float = 60
) -> dict[str, Any]:
    """Poll until the capture leaves SENT/STARTED; return it."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        capture: dict[str, Any] = api.get(f"project/{project_uuid}/capture/{capture_uuid}/").json()
        if not seen or seen[-1] != capture["task_state"]:
            seen.append(capture["task_state"])
        if capture["task_state"] in ("SUCCESS", "FAILURE"):
            capture["_states_seen"] = seen
            return capture
        time.sleep(0.05)
    raise AssertionError(f"capture {capture_uuid} still {seen[-1]} after {timeout} s")
