"""The project page: captures by state, segments and samples per label value, metadata
values."""

from __future__ import annotations

from collections import Counter

from playwright.sync_api import expect

from tests.ui.conftest import Browsing, WatchProject


def test_the_project_page_counts_states_labels_and_metadata(
    ui: Browsing, watch: WatchProject
) -> None:
    ui.goto(f"projects/{watch.uuid}/")
    expect(ui.page.get_by_role("heading", name=watch.name, exact=True)).to_be_visible()
    success = ui.page.locator(".card").filter(has_text="SUCCESS")
    expect(success.locator(".figure")).to_have_text(str(len(watch.manifest)))

    per_value: Counter[str] = Counter()
    samples: Counter[str] = Counter()
    subjects: Counter[str] = Counter()
    for entry in watch.manifest:
        subjects[entry["metadata"]["Subject"]] += 1
        for segment in entry["segments"]:
            per_value[segment["value"]] += 1
            samples[segment["value"]] += segment["end"] - segment["start"] + 1

    segments_chart = ui.page.get_by_role("img", name="Segments per label value")
    samples_chart = ui.page.get_by_role("img", name="Samples per label value")
    metadata_chart = ui.page.get_by_role("img", name="Captures per metadata value")
    for value, count in per_value.items():
        # Each bar's title says its figure in words.
        expect(segments_chart).to_contain_text(f"Exercise {value}: {count:,} segments")
        expect(samples_chart).to_contain_text(f"Exercise {value}: {samples[value]:,} samples")
    for subject, count in subjects.items():
        expect(metadata_chart).to_contain_text(f"Subject {subject}: {count:,} captures")
