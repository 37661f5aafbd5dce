"""The capture table: the watch captures listed, filtered by metadata and name, sorted and
paged on the server; uploads with per-file progress and errors; bulk actions; states that
update without a reload."""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.sync_api import expect

from capturehub import Client
from capturehub.server.captures.paging import SMALL_MATCH
from tests.conftest import RunningServer
from tests.server.helpers import insert_captures
from tests.ui.conftest import Browsing, WatchProject
from tests.ui.helpers import eventually, new_project


def link_names(ui: Browsing) -> set[str]:
    return set(ui.page.locator("#captures tbody td:nth-child(2) a").all_inner_texts())


def test_the_table_lists_the_watch_captures_and_filters_by_subject(
    ui: Browsing, watch: WatchProject
) -> None:
    ui.goto(f"projects/{watch.uuid}/captures/")
    expect(ui.page.get_by_role("heading", name=f"Captures of {watch.name}")).to_be_visible()
    expect(ui.page.locator("#match-count")).to_have_text(f"{len(watch.manifest)} captures")
    expect(ui.page.locator("#captures tbody tr")).to_have_count(50)  # the first page

    ui.page.get_by_label("Per page").select_option("200")
    ui.page.get_by_role("button", name="Filter").click()
    expect(ui.page.locator("#captures tbody tr")).to_have_count(len(watch.manifest))
    assert link_names(ui) == watch.names()
    # Each row links its capture by name.
    first = sorted(watch.names())[0]
    expect(ui.page.get_by_role("table").get_by_role("link", name=first, exact=True)).to_be_visible()

    ui.page.get_by_label("Metadata filter").fill("Subject=S01")
    ui.page.get_by_role("button", name="Filter").click()
    expect(ui.page.locator("#match-count")).to_have_text(
        f"{len(watch.names(Subject='S01'))} captures"
    )
    assert link_names(ui) == watch.names(Subject="S01")
    assert "where=Subject%3DS01" in ui.page.url  # the filtered table has its own address

    ui.page.get_by_label("Metadata filter").fill("Subject=S02; Side=1")
    ui.page.get_by_role("button", name="Filter").click()
    expect(ui.page.locator("#captures tbody tr")).to_have_count(
        len(watch.names(Subject="S02", Side="1"))
    )
    assert link_names(ui) == watch.names(Subject="S02", Side="1")


def test_name_filter_sorting_and_pages(ui: Browsing, watch: WatchProject) -> None:
    ui.goto(f"projects/{watch.uuid}/captures/?name=_ROW_")
    expected = {n for n in watch.names() if "_ROW_" in n}
    expect(ui.page.locator("#match-count")).to_have_text(f"{len(expected)} captures")
    assert link_names(ui) == expected

    ui.goto(f"projects/{watch.uuid}/captures/")
    ui.page.get_by_role("link", name="Name", exact=True).click()
    expect(ui.page.locator("#captures tbody tr").first).to_contain_text(sorted(watch.names())[0])
    ui.page.get_by_role("link", name="Name ▲").click()
    expect(ui.page.locator("#captures tbody tr").first).to_contain_text(sorted(watch.names())[-1])

    ui.page.get_by_role("link", name="Next page").click()
    expect(ui.page.get_by_text("Page 2 of 3")).to_be_visible()
    names = sorted(watch.names(), reverse=True)
    assert link_names(ui) == set(names[50:100])


def test_a_filter_the_server_cannot_read_is_explained(ui: Browsing, watch: WatchProject) -> None:
    ui.goto(f"projects/{watch.uuid}/captures/")
    ui.page.get_by_label("Metadata filter").fill("Colour=red")
    ui.page.get_by_role("button", name="Filter").click()
    expect(ui.page.get_by_role("alert")).to_contain_text("Colour")
    ui.page.get_by_label("Metadata filter").fill("Subject~S01")
    ui.page.get_by_role("button", name="Filter").click()
    expect(ui.page.get_by_role("alert")).to_contain_text("Cannot read the metadata filter")


def test_upload_two_files_by_the_file_input_with_progress(
    ui: Browsing, watch: WatchProject, shared_data: Path, tmp_path: Path
) -> None:
    with ui.api() as http:
        project = new_project(http, f"uploads-{uuid.uuid4().hex[:8]}")
    sources = sorted((shared_data / "watch" / "captures").glob("*.csv"))[:2]
    files = []
    for i, source in enumerate(sources):
        files.append(tmp_path / f"upload-{i}.csv")
        files[-1].write_bytes(source.read_bytes())
    bad = tmp_path / "notes.txt"
    bad.write_text("not a recording\n")

    ui.goto(f"projects/{project['uuid']}/captures/")
    ui.page.get_by_label("choose files").set_input_files([*files, bad])
    uploads = ui.page.get_by_role("list", name="Uploads")
    for path in files:
        item = uploads.get_by_role("listitem").filter(has_text=path.name)
        expect(item.get_by_role("status")).to_have_text("Uploaded")
        progress = item.get_by_role("progressbar", name=f"Upload of {path.name}")
        assert progress.get_attribute("value") == progress.get_attribute("max")
        assert int(progress.evaluate("p => p.max")) >= path.stat().st_size
    failed = uploads.get_by_role("listitem").filter(has_text="notes.txt").get_by_role("status")
    expect(failed).to_contain_text("Failed: Cannot tell the format of 'notes.txt'")

    # The new rows show up and their states turn SUCCESS without a reload.
    for path in files:
        row = ui.page.get_by_role("row").filter(has_text=path.name)
        expect(row.locator('[data-field="state"]')).to_have_text("SUCCESS", timeout=30_000)
    with Client(server=ui.server.url, api_key=ui.server.api_key) as sdk:
        sdk.project = project["name"]
        captures = {c.name: c for c in sdk.project.captures.get_captures()}
        assert set(captures) == {p.name for p in files}
        for path in files:
            assert captures[path.name].file_size == path.stat().st_size


def test_bulk_set_metadata_and_delete(ui: Browsing, shared_data: Path) -> None:
    with ui.api() as http:
        project = new_project(http, f"bulk-{uuid.uuid4().hex[:8]}")
        sources = sorted((shared_data / "watch" / "captures").glob("*.csv"))[:3]
        for source in sources:
            with source.open("rb") as file:
                response = http.post(
                    f"project/{project['uuid']}/capture/",
                    data={"name": source.name},
                    files={"file": (source.name, file)},
                )
                assert response.status_code == 201, response.text
    ui.goto(f"projects/{project['uuid']}/captures/")
    ui.page.get_by_label(f"Select {sources[0].name}").check()
    ui.page.get_by_label(f"Select {sources[1].name}").check()
    expect(ui.page.get_by_text("2 selected")).to_be_visible()
    ui.page.get_by_label("Key", exact=True).fill("Batch")
    ui.page.get_by_label("Value", exact=True).fill("B7")
    ui.page.get_by_role("button", name="Set metadata on selected").click()
    expect(ui.page.get_by_role("status").filter(has_text="Set Batch = B7")).to_be_visible()

    with Client(server=ui.server.url, api_key=ui.server.api_key) as sdk:
        sdk.project = project["name"]
        tagged = {c.name for c in sdk.project.captures.get_captures_by_metadata("Batch", "B7")}
        assert tagged == {sources[0].name, sources[1].name}
    expect(ui.page.get_by_role("columnheader", name="Batch")).to_be_visible()

    ui.page.get_by_label("Select every capture on this page").check()
    ui.page.get_by_role("button", name="Delete selected").click()
    expect(ui.page.get_by_text("Deleted 3 captures.")).to_be_visible()
    expect(ui.page.get_by_text("No capture matches.")).to_be_visible()

    def gone() -> None:
        with ui.api() as http:
            assert http.get(f"project/{project['uuid']}/capture/").json() == []

    eventually(gone)


def test_files_dropped_on_the_page_are_uploaded(ui: Browsing, shared_data: Path) -> None:
    with ui.api() as http:
        project = new_project(http, f"drop-{uuid.uuid4().hex[:8]}")
    source = sorted((shared_data / "watch" / "captures").glob("*.csv"))[0]
    ui.goto(f"projects/{project['uuid']}/captures/")
    # A drop of a file, as the browser delivers it from the desktop.
    transfer = ui.page.evaluate_handle(
        """(text) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], 'dropped.csv', { type: 'text/csv' }));
            return transfer;
        }""",
        source.read_text(),
    )
    ui.page.dispatch_event("#dropzone", "dragover", {"dataTransfer": transfer})
    ui.page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})
    item = ui.page.get_by_role("list", name="Uploads").get_by_role("listitem")
    expect(item.get_by_role("status")).to_have_text("Uploaded")
    row = ui.page.get_by_role("row").filter(has_text="dropped.csv")
    expect(row.locator('[data-field="state"]')).to_have_text("SUCCESS", timeout=30_000)
    with ui.api() as http:
        (capture,) = http.get(f"project/{project['uuid']}/capture/").json()
        assert capture["name"] == "dropped.csv"
        assert capture["file_size"] == len(source.read_bytes())


def test_metadata_ranges_filter_the_table(ui: Browsing, shared_data: Path) -> None:
    sources = sorted((shared_data / "watch" / "captures").glob("*.csv"))[:4]
    ages = [25, 30, 39, 40]
    with ui.api() as http:
        project = new_project(http, f"ranges-{uuid.uuid4().hex[:8]}")
        p = project["uuid"]
        assert http.post(
            f"project/{p}/metadata/", json={"name": "Age", "type": "integer", "is_dropdown": False}
        ).is_success
        for source, age in zip(sources, ages, strict=True):
            with source.open("rb") as file:
                created = http.post(
                    f"project/{p}/capture/",
                    data={"name": source.name},
                    files={"file": (source.name, file)},
                ).json()
            response = http.post(
                f"v2/project/{p}/capture/{created['uuid']}/metadata-relationship/",
                json={"label": "Age", "label_value": age},
            )
            assert response.status_code == 201, response.text
    ui.goto(f"projects/{p}/captures/")
    ui.page.get_by_label("Metadata filter").fill("Age>=30; Age<40")
    ui.page.get_by_role("button", name="Filter").click()
    expect(ui.page.locator("#match-count")).to_have_text("2 captures")
    assert link_names(ui) == {sources[1].name, sources[2].name}
    ui.page.get_by_label("Metadata filter").fill("Age>39")
    ui.page.get_by_role("button", name="Filter").click()
    expect(ui.page.locator("#match-count")).to_have_text("1 capture")
    assert link_names(ui) == {sources[3].name}


def test_a_filter_matching_more_than_are_counted_says_more_than(
    ui: Browsing, server: RunningServer
) -> None:
    """Past SMALL_MATCH matches a filtered list is not counted (captures/paging.py): the
    table says "More than 1,000" and pages on without a last page."""
    with ui.api() as http:
        project = new_project(http, f"crowded-{uuid.uuid4().hex[:8]}")
    insert_captures(server, project["uuid"], SMALL_MATCH + 2)
    ui.goto(f"projects/{project['uuid']}/captures/?name=bulk")
    expect(ui.page.locator("#match-count")).to_have_text(f"More than {SMALL_MATCH:,} captures")
    expect(ui.page.get_by_text("Page 1", exact=True)).to_be_visible()
    first = link_names(ui)
    ui.page.get_by_role("link", name="Next page").click()
    expect(ui.page.get_by_text("Page 2", exact=True)).to_be_visible()
    second = link_names(ui)
    assert len(first) == len(second) == 50 and not first & second
    # Unfiltered, the stored count is exact.
    ui.goto(f"projects/{project['uuid']}/captures/")
    expect(ui.page.locator("#match-count")).to_have_text(f"{SMALL_MATCH + 2:,} captures")
