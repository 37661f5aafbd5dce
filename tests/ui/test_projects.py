"""The projects page: the team's projects with their capture counts, create and delete."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.ui.conftest import Browsing, WatchProject


def test_create_and_delete_a_project(ui: Browsing) -> None:
    name = f"ui-project-{uuid.uuid4().hex[:8]}"
    ui.goto("/")
    ui.page.get_by_label("Project name", exact=True).fill(name)
    ui.page.get_by_role("button", name="Create project").click()
    row = ui.page.get_by_role("row").filter(has_text=name)
    expect(row).to_have_count(1)
    with ui.api() as api:
        assert name in [p["name"] for p in api.get("project/").json()]

    row.get_by_text("Delete…").click()
    row.get_by_role("button", name=f"Delete project {name} and its 0 captures").click()
    expect(ui.page.get_by_role("row").filter(has_text=name)).to_have_count(0)
    with ui.api() as api:
        assert name not in [p["name"] for p in api.get("project/").json()]


def test_a_taken_name_is_refused_in_words(ui: Browsing, watch: WatchProject) -> None:
    ui.goto("/")
    ui.page.get_by_label("Project name", exact=True).fill(watch.name)
    ui.page.get_by_role("button", name="Create project").click()
    expect(ui.page.get_by_role("alert")).to_contain_text("already has a project named")


def test_projects_show_capture_counts_and_only_the_team_s_own(
    ui: Browsing, watch: WatchProject
) -> None:
    with ui.api(ui.server.other) as rival:
        secret = f"rival-{uuid.uuid4().hex[:8]}"
        assert rival.post("project/", json={"name": secret}).status_code == 201
    ui.goto("/")
    row = ui.page.get_by_role("row").filter(has_text=watch.name)
    expect(row.get_by_role("cell").nth(1)).to_have_text(str(len(watch.manifest)))
    expect(ui.page.get_by_text(secret)).to_have_count(0)
