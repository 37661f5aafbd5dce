"""What the UI tests share: waiting for the server to agree, files to upload, the plot's
geometry."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from playwright.sync_api import Page

T = TypeVar("T")


def session_cookie(url: str, account: Any) -> str:
    """Logs ``account`` in through the login form's route, as a browser would; the cookie."""
    with httpx.Client(base_url=url, timeout=60) as http:
        form = http.get("login/")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text
        response = http.post(
            "login/",
            data={
                "username": account.username,
                "password": account.password,
                "csrf_token": token.group(1),
            },
        )
        assert response.status_code == 303, response.text
        return str(http.cookies["capturehub_session"])


def eventually(check: Callable[[], T], *, seconds: float = 15) -> T:
    """``check()`` once it stops raising AssertionError (a saved change the page made is
    visible to the SDK when the page's request has answered; the page does not wait)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def new_project(http: httpx.Client, name: str) -> dict[str, Any]:
    response = http.post("project/", json={"name": name})
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project


def upload(http: httpx.Client, project_uuid: str, path: Path, name: str | None = None) -> str:
    """Uploads ``path`` and waits until it is processed; its uuid."""
    with path.open("rb") as file:
        response = http.post(
            f"project/{project_uuid}/capture/",
            data={"name": name or path.name, "asynchronous": "False"},
            files={"file": (name or path.name, file)},
        )
    assert response.status_code == 201, response.text
    capture: dict[str, Any] = response.json()
    assert capture["task_state"] == "SUCCESS", capture
    return str(capture["uuid"])


class PlotGeometry:
    """Where a sample index is on the plot, from the x range the plot says it shows."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.plot = page.get_by_role("region", name="Signal plot")
        box = self.plot.locator(".u-over").bounding_box()
        assert box is not None
        self.box = box
        self.x_min = float(self.plot.get_attribute("data-x-min") or 0)
        self.x_max = float(self.plot.get_attribute("data-x-max") or 0)

    @property
    def middle_y(self) -> float:
        return self.box["y"] + self.box["height"] / 2

    def x_of(self, index: float) -> float:
        share = (index - self.x_min) / (self.x_max - self.x_min)
        return self.box["x"] + share * self.box["width"]

    def index_at_share(self, share: float) -> float:
        return self.x_min + share * (self.x_max - self.x_min)

    @property
    def samples_per_pixel(self) -> float:
        return (self.x_max - self.x_min) / self.box["width"]

    def drag(self, from_index: float, to_index: float) -> None:
        mouse = self.page.mouse
        mouse.move(self.x_of(from_index), self.middle_y)
        mouse.down()
        mouse.move((self.x_of(from_index) + self.x_of(to_index)) / 2, self.middle_y, steps=4)
        mouse.move(self.x_of(to_index), self.middle_y, steps=4)
        mouse.up()


def painted_pixels(page: Page) -> tuple[int, int]:
    """How many pixels of the plot's canvas are painted, and in how many colours."""
    result = page.evaluate(
        """() => {
            const canvas = document.querySelector('#plot canvas');
            const ctx = canvas.getContext('2d');
            const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            const colours = new Set();
            for (let i = 0; i < data.length; i += 4) {
                if (data[i + 3] === 0) continue;
                const white = data[i] > 245 && data[i + 1] > 245 && data[i + 2] > 245;
                if (white) continue;
                painted += 1;
                colours.add((data[i] >> 4) * 256 + (data[i + 1] >> 4) * 16 + (data[i + 2] >> 4));
            }
            return [painted, colours.size];
        }"""
    )
    return int(result[0]), int(result[1])
