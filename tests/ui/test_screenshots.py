"""The screenshots of docs/ui.md, taken from the real pages with the watch recordings.

They are written to a temporary folder, or to the folder named by CAPTUREHUB_UI_SCREENSHOTS
(`scripts/ui-screenshots` sets it to docs/ui). On SQLite only: the pages look the same on
PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import Browsing, WatchProject, log_in
from tests.ui.helpers import PlotGeometry


@pytest.fixture
def shots(ui: Browsing, tmp_path: Path) -> Path:
    if ui.server.backend != "sqlite":
        pytest.skip("screenshots are taken once, on SQLite")
    folder = Path(os.environ.get("CAPTUREHUB_UI_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_screenshots_of_every_page(ui: Browsing, watch: WatchProject, shots: Path) -> None:
    page = ui.page
    page.set_viewport_size({"width": 1280, "height": 800})

    page.context.clear_cookies()
    ui.goto("login/")
    page.get_by_label("Username").fill(ui.server.username)
    page.screenshot(path=shots / "login.png")
    log_in(page.context, ui.server)

    ui.goto("/")
    expect(page.get_by_role("link", name=watch.name)).to_be_visible()
    page.screenshot(path=shots / "projects.png")

    ui.goto(f"projects/{watch.uuid}/")
    expect(page.get_by_role("img", name="Segments per label value")).to_be_visible()
    page.screenshot(path=shots / "project.png", full_page=True)

    ui.goto(f"projects/{watch.uuid}/captures/?where=Subject%3DS01&sort=name")
    expect(page.locator("#match-count")).to_have_text("14 captures")
    page.get_by_label(f"Select {sorted(watch.names(Subject='S01'))[0]}").check()
    page.screenshot(path=shots / "captures.png", full_page=True)

    name = sorted(watch.names(Subject="S01"))[0]
    page.get_by_role("link", name=name, exact=True).click()
    plot = page.get_by_role("region", name="Signal plot")
    expect(plot).to_have_attribute("data-loading", "false")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    geometry = PlotGeometry(page)
    page.get_by_role("button", name="Zoom in").click()
    expect(plot).to_have_attribute("data-loading", "false")
    geometry = PlotGeometry(page)
    page.mouse.click(geometry.x_of(geometry.index_at_share(0.5)), geometry.middle_y)
    expect(page.locator("#segments tr.selected-segment")).to_have_count(1)
    page.screenshot(path=shots / "capture.png", full_page=True)

    # Dataset versions: one made from the filtered table, the project page's list, its page.
    ui.goto(f"projects/{watch.uuid}/captures/?where=Subject%3DS01&sort=name")
    page.get_by_text("Make a version of these captures").click()
    page.get_by_label("Version name").fill("s01-all")
    page.get_by_label("Description").fill("Every recording of subject S01")
    page.get_by_role("button", name="Make version").click()
    expect(page.locator("#version-outcome").get_by_role("status")).to_contain_text("14 captures")
    page.locator("#make-version-panel").screenshot(path=shots / "make-version.png")
    ui.goto(f"projects/{watch.uuid}/")
    page.locator("#versions").screenshot(path=shots / "versions.png")
    page.get_by_role("link", name="s01-all", exact=True).click()
    expect(page.get_by_role("heading", name="s01-all")).to_be_visible()
    page.screenshot(path=shots / "version.png", full_page=True)
    with ui.api() as http:
        assert http.delete(f"project/{watch.uuid}/versions/s01-all/").status_code == 204
