"""Dataset versions in the UI: made from the capture table's current filter (and holding
exactly the captures the table shows), listed on the project page with their counts and
hash, opened, deleted; refusals in words; user strings escaped."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from capturehub.server.errors import BadRequest
from capturehub.server.ui.capture_table import TableParams, version_where
from capturehub.server.ui.versions_page import filter_words
from tests.ui.conftest import Browsing, WatchProject
from tests.ui.helpers import new_project, session_cookie, upload


def shown_names(ui: Browsing) -> set[str]:
    return set(ui.page.locator("#captures tbody td:nth-child(2) a").all_inner_texts())


def version_json(http: httpx.Client, project: str, name: str) -> dict[str, Any]:
    response = http.get(f"project/{project}/versions/{name}/")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def version_names(http: httpx.Client, project: str, name: str) -> set[str]:
    response = http.get(f"project/{project}/versions/{name}/capture/")
    assert response.status_code == 200, response.text
    return {capture["name"] for capture in response.json()}


def make_version(ui: Browsing, name: str, description: str = "") -> None:
    panel = ui.page.locator("#make-version-panel")
    if panel.get_attribute("open") is None:
        panel.get_by_text("Make a version of these captures").click()
    ui.page.get_by_label("Version name").fill(name)
    ui.page.get_by_label("Description").fill(description)
    ui.page.get_by_role("button", name="Make version").click()


def test_the_table_filter_becomes_the_version_where() -> None:
    params = TableParams(name="pen", state="SUCCESS", where="Side=1; Age>=30; Age<40; Age>=30")
    assert version_where(params) == {
        "name__contains": "pen",
        "task_state": "SUCCESS",
        "metadata.Side": "1",
        "metadata.Age__gte": "30",
        "metadata.Age__lt": "40",
    }
    assert version_where(TableParams()) == {}
    with pytest.raises(BadRequest, match="Subject=S01 and Subject=S02"):
        version_where(TableParams(where="Subject=S01; Subject=S02"))
    with pytest.raises(BadRequest, match="ends like a filter operator"):
        version_where(TableParams(where="Size__in=3"))

    # And back, in the table's words, for the pages.
    assert filter_words(version_where(params)) == "name contains pen; state SUCCESS; Side=1; " + (
        "Age>=30; Age<40"
    )
    assert filter_words({}) == "the whole project"
    assert (
        filter_words(
            {"metadata.Side__in": "0,1", "metadata.Note__exists": "false", "format": ".csv"}
        )
        == "Side in 0,1; Note not set; format .csv"
    )


def test_a_version_of_the_filtered_table_holds_exactly_its_captures(
    ui: Browsing, watch: WatchProject
) -> None:
    p = watch.uuid
    ui.goto(f"projects/{p}/captures/?size=200")
    ui.page.get_by_label("Name contains").fill("pen")
    ui.page.get_by_label("State").select_option("SUCCESS")
    ui.page.get_by_label("Metadata filter").fill("Side=1")
    ui.page.get_by_role("button", name="Filter").click()
    expected = {name for name in watch.names(Side="1") if "PEN" in name.upper()}
    assert 0 < len(expected) < len(watch.manifest)
    expect(ui.page.locator("#match-count")).to_have_text(f"{len(expected)} captures")
    assert shown_names(ui) == expected

    name = f"pen-side1-{uuid.uuid4().hex[:6]}"
    make_version(ui, name, "PEN on the right wrist")
    outcome = ui.page.locator("#version-outcome").get_by_role("status")
    expect(outcome).to_contain_text(f"Made version {name}: {len(expected)} captures")

    entries = [e for e in watch.manifest if Path(e["file"]).name in expected]
    per_value = Counter(s["value"] for e in entries for s in e["segments"])
    with ui.api() as http:
        assert version_names(http, p, name) == expected  # exactly what the table showed
        made = version_json(http, p, name)
    assert made["where"] == {
        "name__contains": "pen",
        "task_state": "SUCCESS",
        "metadata.Side": "1",
    }
    assert made["captures"] == len(expected)
    assert made["segments"] == sum(per_value.values())
    assert made["labels"] == {"Exercise": dict(per_value)}

    ui.goto(f"projects/{p}/")
    row = ui.page.locator("#version-table tbody tr").filter(
        has=ui.page.get_by_role("link", name=name, exact=True)
    )
    expect(row.locator('[data-field="captures"]')).to_have_text(f"{len(expected):,}")
    expect(row.locator('[data-field="samples"]')).to_have_text(f"{made['samples']:,}")
    expect(row.locator('[data-field="segments"]')).to_have_text(f"{made['segments']:,}")
    expect(row.locator('[data-field="description"]')).to_have_text("PEN on the right wrist")
    expect(row.locator('[data-field="filter"]')).to_have_text(
        "name contains pen; state SUCCESS; Side=1"
    )
    hash_cell = row.locator('[data-field="hash"]')
    expect(hash_cell).to_have_text(made["content_hash"][:12])
    expect(hash_cell).to_have_attribute("title", made["content_hash"])

    # Opened: the version page counts segments per label value.
    row.get_by_role("link", name=name, exact=True).click()
    expect(ui.page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    expect(ui.page.locator("#content-hash")).to_have_text(made["content_hash"])
    expect(ui.page.locator("#version-captures")).to_have_text(f"{len(expected):,}")
    labels = ui.page.get_by_role("table", name="Segments per label value")
    for value, count in per_value.items():
        expect(labels.get_by_role("row").filter(has_text=value)).to_contain_text(f"{count:,}")

    # Deleted from the project page, after a second click.
    ui.goto(f"projects/{p}/")
    row.get_by_text("Delete…").click()
    row.get_by_role("button", name=f"Delete version {name}").click()
    expect(ui.page.locator("#versions").get_by_role("status")).to_have_text(
        f"Deleted version {name}."
    )
    expect(ui.page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    with ui.api() as http:
        assert http.get(f"project/{p}/versions/{name}/").status_code == 404
        # The project's captures stay.
        assert len(http.get(f"project/{p}/capture/").json()) == len(watch.manifest)


def test_a_range_filter_makes_the_version_the_table_shows(ui: Browsing, shared_data: Path) -> None:
    sources = sorted((shared_data / "watch" / "captures").glob("*.csv"))[:4]
    with ui.api() as http:
        project = new_project(http, f"version-ranges-{uuid.uuid4().hex[:8]}")
        p = project["uuid"]
        assert http.post(
            f"project/{p}/metadata/", json={"name": "Age", "type": "integer", "is_dropdown": False}
        ).is_success
        for source, age in zip(sources, [25, 30, 39, 40], strict=True):
            with source.open("rb") as file:
                created = http.post(
                    f"project/{p}/capture/",
                    data={"name": source.name, "asynchronous": "False"},
                    files={"file": (source.name, file)},
                ).json()
            response = http.post(
                f"v2/project/{p}/capture/{created['uuid']}/metadata-relationship/",
                json={"label": "Age", "label_value": age},
            )
            assert response.status_code == 201, response.text
    ui.goto(f"projects/{p}/captures/?where=Age%3E%3D30%3B+Age%3C40")
    expect(ui.page.locator("#match-count")).to_have_text("2 captures")
    make_version(ui, "thirties")
    expect(ui.page.locator("#version-outcome")).to_contain_text("Made version thirties: 2 captures")
    with ui.api() as http:
        assert version_names(http, p, "thirties") == {sources[1].name, sources[2].name}
        assert version_json(http, p, "thirties")["where"] == {
            "metadata.Age__gte": "30",
            "metadata.Age__lt": "40",
        }


def test_refusals_are_shown_in_words(ui: Browsing, watch: WatchProject) -> None:
    p = watch.uuid
    taken = f"taken-{uuid.uuid4().hex[:6]}"
    with ui.api() as http:
        response = http.post(f"project/{p}/versions/", json={"name": taken, "where": {"name": "x"}})
        assert response.status_code == 201, response.text
    ui.goto(f"projects/{p}/captures/?where=Subject%3DS01")
    make_version(ui, taken)
    alert = ui.page.locator("#version-outcome").get_by_role("alert")
    expect(alert).to_have_text(
        f"The project already has a version named {taken!r}; version names are never reused "
        "(delete it first, or choose another name)."
    )
    make_version(ui, "   ")
    expect(alert).to_have_text("The version name cannot be empty.")

    # A filter the table itself cannot apply: the same words, and no version.
    ui.goto(f"projects/{p}/captures/?where=Colour%3Dred")
    refused = f"colour-{uuid.uuid4().hex[:6]}"
    make_version(ui, refused)
    expect(ui.page.locator("#version-outcome").get_by_role("alert")).to_contain_text(
        "Unknown metadata key 'Colour'"
    )
    with ui.api() as http:
        assert http.get(f"project/{p}/versions/{refused}/").status_code == 404
        assert http.delete(f"project/{p}/versions/{taken}/").status_code == 204


def test_version_names_and_descriptions_render_as_text(ui: Browsing, watch: WatchProject) -> None:
    p = watch.uuid
    name = f"<img src=x onerror=alert(1)> {uuid.uuid4().hex[:6]}"
    description = "<script>alert(2)</script><b>bold</b>"
    ui.goto(f"projects/{p}/captures/?where=Subject%3DS03")
    make_version(ui, name, description)
    expect(ui.page.locator("#version-outcome").get_by_role("status")).to_contain_text(name)
    ui.goto(f"projects/{p}/")
    link = ui.page.get_by_role("link", name=name, exact=True)
    expect(link).to_be_visible()
    row = ui.page.locator("#version-table tbody tr").filter(has=link)
    expect(row.locator('[data-field="description"]')).to_have_text(description)
    link.click()
    expect(ui.page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    expect(ui.page.locator("#version-description")).to_have_text(description)
    assert ui.page.locator("main img, main script, main b").count() == 0
    # Deleted from its own page (a plain form): back to the project page without it.
    ui.page.get_by_text("Delete this version…").click()
    ui.page.get_by_role("button", name=f"Delete version {name}").click()
    expect(ui.page.get_by_role("heading", name="Versions")).to_be_visible()
    expect(ui.page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    assert ui.dialogs == []


def test_making_and_deleting_need_the_csrf_token(ui: Browsing, watch: WatchProject) -> None:
    p = watch.uuid
    name = f"csrf-{uuid.uuid4().hex[:6]}"
    cookie = session_cookie(ui.server.url, ui.server.main)
    with httpx.Client(
        base_url=ui.server.url, cookies={"capturehub_session": cookie}, timeout=60
    ) as browser:
        made = browser.post(f"projects/{p}/versions/", data={"version_name": name})
        assert made.status_code == 403, made.text
        with ui.api() as http:
            assert http.get(f"project/{p}/versions/{name}/").status_code == 404
            assert http.post(f"project/{p}/versions/", json={"name": name}).status_code == 201
        page = browser.get(f"projects/{p}/")
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert token, page.text
        refused = browser.post(f"projects/{p}/versions/{name}/delete/")
        assert refused.status_code == 403, refused.text
        deleted = browser.post(
            f"projects/{p}/versions/{name}/delete/",
            data={"csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert deleted.status_code == 303, deleted.text

        # Without scripts the form still works: the table's filter fields come with it.
        form = {"csrf_token": token.group(1), "version_name": name, "where": "Subject=S04"}
        made = browser.post(f"projects/{p}/versions/", data=form, follow_redirects=False)
        assert made.status_code == 303, made.text
        page = browser.get(made.headers["location"])
        assert f"<h1>{name}</h1>" in page.text
        again = browser.post(f"projects/{p}/versions/", data=form)
        assert again.status_code == 409
        assert "already has a version named" in again.text
        assert 'id="make-version-panel" open' in again.text  # the form shows why
        with ui.api() as http:
            assert version_names(http, p, name) == watch.names(Subject="S04")
            assert http.delete(f"project/{p}/versions/{name}/").status_code == 204
    with ui.api() as http:
        assert http.get(f"project/{p}/versions/{name}/").status_code == 404


def test_two_versions_compared(ui: Browsing, shared_data: Path) -> None:
    first, second, third, fourth = sorted((shared_data / "watch" / "captures").glob("*.csv"))[:4]
    with ui.api() as http:
        project = new_project(http, f"version-diff-{uuid.uuid4().hex[:8]}")
        p = project["uuid"]
        ids = {source.name: upload(http, p, source) for source in (first, second, third)}
        assert http.post(f"project/{p}/versions/", json={"name": "before"}).status_code == 201
        assert http.delete(f"project/{p}/capture/{ids[first.name]}/").is_success
        upload(http, p, fourth)
        assert http.post(
            f"project/{p}/metadata/", json={"name": "Subject", "is_dropdown": False}
        ).is_success
        response = http.post(
            f"v2/project/{p}/capture/{ids[second.name]}/metadata-relationship/",
            json={"label": "Subject", "label_value": "S09"},
        )
        assert response.status_code == 201, response.text
        assert http.post(f"project/{p}/versions/", json={"name": "after"}).status_code == 201

    ui.goto(f"projects/{p}/")
    # The newest is first, and the form compares the one before it with it.
    expect(ui.page.get_by_label("Compare")).to_have_text(re.compile("after.*before", re.S))
    ui.page.get_by_role("button", name="Show differences").click()
    expect(ui.page.get_by_role("heading", name="From before to after")).to_be_visible()
    expect(ui.page.locator("#diff-added")).to_have_text("1")
    expect(ui.page.locator("#diff-removed")).to_have_text("1")
    expect(ui.page.locator("#diff-changed")).to_have_text("1")
    added = ui.page.locator("section").filter(has=ui.page.get_by_role("heading", name="Added"))
    expect(added.get_by_role("listitem")).to_have_text([fourth.name])
    removed = ui.page.locator("section").filter(has=ui.page.get_by_role("heading", name="Removed"))
    expect(removed.get_by_role("listitem")).to_have_text([first.name])
    changes = ui.page.get_by_role("table", name="Changed captures")
    expect(changes.get_by_role("row").filter(has_text=second.name)).to_contain_text(
        "Subject: (none) → S09"
    )


def test_an_answer_the_page_cannot_swap_is_still_told(ui: Browsing, watch: WatchProject) -> None:
    ui.goto(f"projects/{watch.uuid}/captures/")
    # As after the session changed in another tab: the page's CSRF token is no longer valid.
    ui.page.evaluate(
        """() => document.body.setAttribute('hx-headers', '{"X-CSRF-Token": "stale"}')"""
    )
    make_version(ui, f"stale-{uuid.uuid4().hex[:6]}")
    expect(ui.page.locator("#version-outcome").get_by_role("alert")).to_have_text(
        re.compile(r"The version was not made: the server answered 403")
    )
    # htmx reports the refusal in the console too; nothing else may be there.
    assert all(error.startswith("Response Status Error Code 403") for error in ui.console_errors), (
        ui.console_errors
    )
    ui.console_errors.clear()


def test_another_team_s_versions_are_404_pages(ui: Browsing, shared_data: Path) -> None:
    source = sorted((shared_data / "watch" / "captures").glob("*.csv"))[0]
    with ui.api(ui.server.other) as rival:
        project = new_project(rival, f"rival-versions-{uuid.uuid4().hex[:6]}")
        p = project["uuid"]
        upload(rival, p, source)
        made = rival.post(f"project/{p}/versions/", json={"name": "secret"}).json()
    for path in (
        f"projects/{p}/versions/{made['uuid']}/",
        f"projects/{p}/versions/secret/",
        f"projects/{p}/version-diff/?from=secret&to=secret",
    ):
        response = ui.page.request.get(ui.server.url + path)
        assert response.status == 404, path
        assert "secret" not in response.text()
    ui.goto("/")  # any page: its CSRF token
    token = ui.page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token
    for path in (f"projects/{p}/versions/", f"projects/{p}/versions/{made['uuid']}/delete/"):
        response = ui.page.request.post(
            ui.server.url + path,
            form={"csrf_token": token, "version_name": "mine"},
            max_redirects=0,
        )
        assert response.status == 404, path
    with ui.api(ui.server.other) as rival:
        assert [v["name"] for v in rival.get(f"project/{p}/versions/").json()] == ["secret"]
