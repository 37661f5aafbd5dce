"""What a page must never do: run a user's string as markup, or show another team's data."""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.sync_api import expect

from tests.ui.conftest import Browsing, WatchProject
from tests.ui.helpers import new_project, upload

HOSTILE_NAME = "<img src=x onerror=alert(1)>.csv"
HOSTILE_VALUE = "<script>alert(2)</script>"


def test_names_and_metadata_render_as_text_and_no_dialog_opens(
    ui: Browsing, shared_data: Path
) -> None:
    source = sorted((shared_data / "watch" / "captures").glob("*.csv"))[0]
    with ui.api() as http:
        project = new_project(http, f"<b>bold</b> {uuid.uuid4().hex[:6]}")
        capture = upload(http, project["uuid"], source, name=HOSTILE_NAME)
        assert http.post(
            f"project/{project['uuid']}/metadata/", json={"name": "Note", "is_dropdown": False}
        ).is_success
        response = http.post(
            f"v2/project/{project['uuid']}/capture/{capture}/metadata-relationship/",
            json={"label": "Note", "label_value": HOSTILE_VALUE},
        )
        assert response.status_code == 201, response.text
        response = http.post(
            f"project/{project['uuid']}/label/",
            json={"name": "<i>label</i>", "values": [HOSTILE_VALUE]},
        )
        assert response.status_code == 201, response.text

    ui.goto("/")
    expect(ui.page.get_by_role("link", name=project["name"])).to_be_visible()
    ui.goto(f"projects/{project['uuid']}/captures/")
    expect(ui.page.get_by_role("link", name=HOSTILE_NAME)).to_be_visible()
    expect(ui.page.get_by_role("cell", name=HOSTILE_VALUE)).to_be_visible()
    ui.goto(f"projects/{project['uuid']}/")
    expect(ui.page.get_by_role("heading", name=project["name"])).to_be_visible()
    ui.goto(f"projects/{project['uuid']}/captures/{capture}/")
    expect(ui.page.get_by_role("heading", name=HOSTILE_NAME)).to_be_visible()
    metadata = ui.page.get_by_role("table", name="Metadata")
    expect(metadata.get_by_role("cell", name=HOSTILE_VALUE)).to_be_visible()
    expect(ui.page.get_by_role("combobox", name="Label value")).to_contain_text(HOSTILE_VALUE)
    # Nothing of it became an element, and nothing ran.
    assert ui.page.locator("main img, main script, main b, main i").count() == 0
    assert ui.dialogs == []


def test_another_team_s_capture_and_project_urls_are_404_pages(
    ui: Browsing, watch: WatchProject, shared_data: Path
) -> None:
    source = sorted((shared_data / "watch" / "captures").glob("*.csv"))[0]
    with ui.api(ui.server.other) as rival:
        project = new_project(rival, f"secret-{uuid.uuid4().hex[:6]}")
        capture = upload(rival, project["uuid"], source, name="secret-recording.csv")
    for path in (
        f"projects/{project['uuid']}/captures/{capture}/",
        f"projects/{project['uuid']}/captures/",
        f"projects/{project['uuid']}/",
        # Their capture under one of our own projects: still not found.
        f"projects/{watch.uuid}/captures/{capture}/",
    ):
        response = ui.page.goto(ui.server.url + path)
        assert response is not None and response.status == 404, path
        expect(ui.page.get_by_role("heading", name="Not found")).to_be_visible()
        expect(ui.page.get_by_text("secret")).to_have_count(0)
    # Nor do their files come through the cookie session.
    response = ui.page.goto(ui.server.url + f"project/{project['uuid']}/capture/{capture}/file/")
    assert response is not None and response.status == 404
