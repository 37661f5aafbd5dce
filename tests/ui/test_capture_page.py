"""The capture page: its plot (non-blank, zooms), segments drawn and edited with the mouse
and keys (each change checked through the SDK), metadata edited, statistics shown."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from capturehub import Client
from capturehub.datamanager.capture import Capture
from tests.ui.conftest import Browsing, WatchProject
from tests.ui.helpers import PlotGeometry, eventually, new_project, painted_pixels, upload


@dataclass
class Labelled:
    project: dict[str, str]
    capture_uuid: str
    name: str
    samples: int
    sdk: Client

    def capture(self) -> Capture:
        found = self.sdk.project.captures.get_capture_by_uuid(self.capture_uuid)
        assert found is not None
        return found

    def segments(self) -> list[tuple[str, str, int, int]]:
        capture = self.capture()
        capture.segments.refresh()
        return sorted((s.label, str(s.value), s.start, s.end) for s in capture.segments)


@pytest.fixture
def labelled(ui: Browsing, shared_data: Path) -> Iterator[Labelled]:
    """A fresh project with a segment label of two values and one watch capture."""
    source = sorted((shared_data / "watch" / "captures").glob("*.csv"))[0]
    with ui.api() as http:
        project = new_project(http, f"labelling-{uuid.uuid4().hex[:8]}")
        response = http.post(
            f"project/{project['uuid']}/label/",
            json={"name": "Activity", "values": ["walk", "run"]},
        )
        assert response.status_code == 201, response.text
        capture_uuid = upload(http, project["uuid"], source)
        samples = http.get(f"project/{project['uuid']}/capture/{capture_uuid}/").json()[
            "number_samples"
        ]
    with Client(server=ui.server.url, api_key=ui.server.api_key) as sdk:
        sdk.project = project["name"]
        yield Labelled(project, capture_uuid, source.name, samples, sdk)


def open_capture(ui: Browsing, labelled: Labelled) -> PlotGeometry:
    ui.goto(f"projects/{labelled.project['uuid']}/captures/{labelled.capture_uuid}/")
    plot = ui.page.get_by_role("region", name="Signal plot")
    expect(plot).not_to_have_attribute("data-draws", "0")
    expect(plot).to_have_attribute("data-loading", "false")
    return PlotGeometry(ui.page)


def test_the_capture_page_names_its_parts(ui: Browsing, labelled: Labelled) -> None:
    open_capture(ui, labelled)
    expect(ui.page.get_by_role("heading", name=labelled.name, exact=True)).to_be_visible()
    expect(ui.page.get_by_role("table", name="Segments")).to_be_visible()
    statistics = ui.page.get_by_role("table", name="Statistics")
    expect(statistics.get_by_role("row")).to_have_count(1 + 6)  # header and six channels
    stats = labelled.capture().statistics["AccelerometerX"]
    row = statistics.get_by_role("row").filter(has_text="AccelerometerX")
    expect(row.get_by_role("cell").nth(0)).to_have_text(f"{stats['count']:,}")
    expect(row.get_by_role("cell").nth(1)).to_have_text(f"{stats['min']:.6g}")


def test_the_plot_is_drawn_and_zooms(ui: Browsing, labelled: Labelled) -> None:
    plot = open_capture(ui, labelled)
    painted, colours = painted_pixels(ui.page)
    assert painted > 5_000 and colours >= 6, (painted, colours)  # six channels' lines
    assert plot.x_min == pytest.approx(0, abs=1)
    assert plot.x_max == pytest.approx(labelled.samples, rel=0.01)
    region = ui.page.get_by_role("region", name="Signal plot")

    def width() -> float:
        return float(region.get_attribute("data-x-max") or 0) - float(
            region.get_attribute("data-x-min") or 0
        )

    full = width()
    ui.page.get_by_role("button", name="Zoom in").click()
    eventually(lambda: assert_close(width(), full / 2))
    # The wheel zooms in further around the pointer, the drag zooms to what it covers.
    ui.page.mouse.move(plot.x_of(plot.index_at_share(0.5)), plot.middle_y)
    ui.page.mouse.wheel(0, -200)
    eventually(lambda: assert_less(width(), full / 2 * 0.9))
    zoomed = PlotGeometry(ui.page)
    start, end = zoomed.index_at_share(0.25), zoomed.index_at_share(0.5)
    zoomed.drag(start, end)
    eventually(lambda: assert_close(width(), end - start, tolerance=0.1))
    expect(region).to_have_attribute("data-loading", "false")
    painted, _ = painted_pixels(ui.page)
    assert painted > 2_000  # the zoomed window's samples are drawn
    ui.page.get_by_role("button", name="Reset zoom").click()
    eventually(lambda: assert_close(width(), labelled.samples, tolerance=0.02))
    expect(ui.page.locator("#plot-status")).to_contain_text("min/max of")  # bands

    # Panning moves the window without changing its width.
    ui.page.get_by_role("button", name="Zoom in").click()
    eventually(lambda: assert_close(width(), full / 2))
    left = float(region.get_attribute("data-x-min") or 0)
    ui.page.get_by_role("button", name="Pan right").click()
    eventually(lambda: assert_less(left + full / 8, float(region.get_attribute("data-x-min") or 0)))
    assert_close(width(), full / 2)

    # Zoomed in far enough, the samples themselves are drawn.
    for _ in range(3):
        ui.page.get_by_role("button", name="Zoom in").click()
    expect(ui.page.locator("#plot-status")).not_to_contain_text("min/max")
    expect(region).to_have_attribute("data-loading", "false")

    # Channel toggles: with five channels hidden, fewer colours are painted.
    _, all_colours = painted_pixels(ui.page)
    for name in ("AccelerometerY", "AccelerometerZ", "GyroscopeX", "GyroscopeY", "GyroscopeZ"):
        ui.page.get_by_role("checkbox", name=name).uncheck()
    _, one_colour = painted_pixels(ui.page)
    assert one_colour < all_colours, (one_colour, all_colours)
    # No sample rate known for this upload: the x axis counts samples.
    expect(region).to_have_attribute("data-x-unit", "samples")


def test_the_x_axis_is_in_seconds_when_the_rate_is_known(ui: Browsing, watch: WatchProject) -> None:
    with ui.api() as http:
        first = http.get(f"project/{watch.uuid}/capture/", params={"limit": 1}).json()
    capture = first["results"][0]
    assert capture["set_sample_rate"] == 50
    ui.goto(f"projects/{watch.uuid}/captures/{capture['uuid']}/")
    region = ui.page.get_by_role("region", name="Signal plot")
    expect(region).to_have_attribute("data-loading", "false")
    expect(region).to_have_attribute("data-x-unit", "seconds")
    assert float(region.get_attribute("data-x-max") or 0) == pytest.approx(
        capture["number_samples"], rel=0.01
    )


def assert_close(value: float, expected: float, tolerance: float = 0.05) -> None:
    assert abs(value - expected) <= tolerance * expected, (value, expected)


def assert_less(value: float, bound: float) -> None:
    assert value < bound, (value, bound)


def test_segments_created_resized_undone_redone_and_deleted(
    ui: Browsing, labelled: Labelled
) -> None:
    plot = open_capture(ui, labelled)
    page = ui.page
    slack = plot.samples_per_pixel + 2
    a, b, c = (plot.index_at_share(s) for s in (0.2, 0.4, 0.6))

    # Key 1 picks the first label value ("walk") and the label mode; a drag makes a segment.
    page.get_by_role("region", name="Signal plot").focus()
    page.keyboard.press("1")
    expect(page.get_by_role("combobox", name="Label value")).to_have_value(
        page.locator("#label-value option").first.get_attribute("value") or ""
    )
    plot.drag(a, b)
    expect(page.locator("#segment-status")).to_have_text("Added walk; saved.")
    (segment,) = eventually(lambda: expect_segments(labelled, 1))
    assert segment[:2] == ("Activity", "walk")
    assert abs(segment[2] - a) <= slack and abs(segment[3] - b) <= slack
    created = segment
    rows = page.get_by_role("table", name="Segments").get_by_role("row")
    expect(rows.nth(1)).to_contain_text("walk")

    # Dragging its right edge resizes it: one drag, one change.
    plot = PlotGeometry(page)
    plot.drag(created[3] + 1, c)
    expect(page.locator("#segment-status")).to_have_text("Resized walk; saved.")
    resized = eventually(lambda: expect_end_near(labelled, c, slack))
    assert resized[2] == created[2]

    # Ctrl+Z undoes the resize, Ctrl+Shift+Z redoes it; the SDK sees each.
    page.keyboard.press("Control+z")
    eventually(lambda: expect_exactly(labelled, [created]))
    page.keyboard.press("Control+Shift+z")
    eventually(lambda: expect_exactly(labelled, [resized]))

    # Esc cancels a drag in progress: nothing is created.
    page.keyboard.press("2")  # "run"
    page.mouse.move(plot.x_of(plot.index_at_share(0.7)), plot.middle_y)
    page.mouse.down()
    page.mouse.move(plot.x_of(plot.index_at_share(0.9)), plot.middle_y, steps=5)
    page.keyboard.press("Escape")
    page.mouse.up()
    assert labelled.segments() == [resized]

    # A second segment; the arrow keys step between them, Delete removes the selected one.
    plot.drag(plot.index_at_share(0.75), plot.index_at_share(0.85))
    expect(page.locator("#segment-status")).to_have_text("Added run; saved.")
    (first, second) = eventually(lambda: expect_segments(labelled, 2))
    # Undo takes the new segment away, redo brings it back (with a new uuid on the server).
    page.keyboard.press("Control+z")
    eventually(lambda: expect_exactly(labelled, [resized]))
    page.keyboard.press("Control+Shift+z")
    eventually(lambda: expect_exactly(labelled, [first, second]))
    selected = page.locator("#segments tr.selected-segment")
    expect(selected).to_contain_text("run")
    page.keyboard.press("ArrowLeft")
    expect(selected).to_contain_text("walk")
    page.keyboard.press("ArrowRight")
    expect(selected).to_contain_text("run")
    page.keyboard.press("Delete")
    expect(page.locator("#segment-status")).to_have_text("Deleted run; saved.")
    eventually(lambda: expect_exactly(labelled, [resized]))

    # A click on a segment selects it; Delete, then undo brings it back.
    page.get_by_label("zoom").check()
    plot = PlotGeometry(page)
    page.mouse.click(plot.x_of((resized[2] + resized[3]) / 2), plot.middle_y)
    expect(selected).to_contain_text("walk")
    page.keyboard.press("Delete")
    eventually(lambda: expect_exactly(labelled, []))
    page.keyboard.press("Control+z")
    eventually(lambda: expect_exactly(labelled, [resized]))


def expect_segments(labelled: Labelled, count: int) -> list[tuple[str, str, int, int]]:
    segments = labelled.segments()
    assert len(segments) == count, segments
    return segments


def expect_end_near(labelled: Labelled, end: float, slack: float) -> tuple[str, str, int, int]:
    (segment,) = expect_segments(labelled, 1)
    assert abs(segment[3] - end) <= slack, (segment, end)
    return segment


def expect_exactly(labelled: Labelled, expected: list[tuple[str, str, int, int]]) -> None:
    assert labelled.segments() == expected


def test_metadata_shown_and_edited(ui: Browsing, labelled: Labelled) -> None:
    open_capture(ui, labelled)
    page = ui.page
    page.get_by_label("Key", exact=True).fill("Subject")
    page.get_by_label("Value", exact=True).fill("S42")
    page.get_by_role("button", name="Save metadata").click()
    table = page.get_by_role("table", name="Metadata")
    expect(table.get_by_role("row").filter(has_text="Subject")).to_contain_text("S42")
    eventually(lambda: expect_metadata(labelled, {"Subject": "S42"}))

    page.get_by_label("Key", exact=True).fill("Subject")
    page.get_by_label("Value", exact=True).fill("S43")
    page.get_by_role("button", name="Save metadata").click()
    expect(table.get_by_role("row").filter(has_text="Subject")).to_contain_text("S43")
    eventually(lambda: expect_metadata(labelled, {"Subject": "S43"}))

    page.get_by_role("button", name="Remove Subject").click()
    expect(table).to_contain_text("No metadata yet.")
    eventually(lambda: expect_metadata(labelled, {}))


def expect_metadata(labelled: Labelled, expected: dict[str, str]) -> None:
    capture = labelled.capture()
    capture.metadata.refresh()
    assert {k: str(v) for k, v in capture.metadata.items()} == expected


def test_an_audio_capture_plays_in_the_page(ui: Browsing, shared_data: Path) -> None:
    wav = shared_data / "audio" / "BM003.wav"
    with ui.api() as http:
        project = new_project(http, f"audio-{uuid.uuid4().hex[:8]}")
        capture = upload(http, project["uuid"], wav)
    ui.goto(f"projects/{project['uuid']}/captures/{capture}/")
    audio = ui.page.locator("audio")
    expect(audio).to_have_count(1)
    # The browser reads the file's header and length from the download route.
    ui.page.wait_for_function("() => document.querySelector('audio').readyState >= 1")
    duration = float(audio.evaluate("a => a.duration"))
    with ui.api() as http:
        info = http.get(f"project/{project['uuid']}/capture/{capture}/").json()
    rate = info["set_sample_rate"] or info["calculated_sample_rate"]
    assert duration == pytest.approx(info["number_samples"] / rate, rel=0.01)
    # Seeking asks for a part of the file: the route answers Range with 206, through the
    # cookie session.
    source = audio.get_attribute("src") or ""
    part = ui.page.request.get(ui.server.url + source.lstrip("/"), headers={"Range": "bytes=0-99"})
    assert part.status == 206
    assert part.body() == wav.read_bytes()[:100]


def test_a_value_picked_from_the_list_labels_the_next_drag(
    ui: Browsing, labelled: Labelled
) -> None:
    plot = open_capture(ui, labelled)
    ui.page.get_by_role("combobox", name="Label value").select_option(label="2: Activity: run")
    expect(ui.page.get_by_role("radio", name="label")).to_be_checked()
    plot.drag(plot.index_at_share(0.1), plot.index_at_share(0.3))
    expect(ui.page.locator("#segment-status")).to_have_text("Added run; saved.")
    (segment,) = eventually(lambda: expect_segments(labelled, 1))
    assert segment[:2] == ("Activity", "run")
