"""``capturehub export``: each format loads back in one line with the right shapes and labels."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import pytest

from capturehub import Client
from capturehub.cli.demo_data import CHANNELS
from capturehub.exceptions import CapturehubError
from tests.cli.conftest import Run, WatchProject, one_line_error


@pytest.mark.parametrize("fmt", ["parquet", "csv", "npz"])
def test_export_loads_back(
    fmt: str,
    watch_project: WatchProject,
    run: Run,
    sdk: Client,
    shared_data: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "dataset"
    result = run(
        "export", "-p", watch_project.name, "-w", "Subject=S01,S03", "--format", fmt, "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    wanted = watch_project.names(Subject="S01") | watch_project.names(Subject="S03")
    manifest = {Path(e["file"]).name: e for e in watch_project.manifest}
    sdk.project = watch_project.name
    samples_of = {c.name: c.number_samples for c in sdk.project.captures.get_captures()}

    table = "parquet" if fmt == "parquet" else "csv"
    read = pd.read_parquet if fmt == "parquet" else pd.read_csv
    metadata = read(out / f"metadata.{table}")
    segments = read(out / f"segments.{table}")
    assert set(metadata["capture"]) == wanted
    # pandas-stubs types every field of a row as any scalar; "capture" and "file" hold names.
    for row in metadata.itertuples():
        capture = cast(str, row.capture)
        assert row.number_samples == samples_of[capture]
        assert row.Subject == manifest[capture]["metadata"]["Subject"]
        assert row.sample_rate == 50
    assert list(segments.columns) == ["capture", "label", "value", "start", "end"]
    assert len(segments) == len(wanted)
    for row in segments.itertuples():
        expected = manifest[cast(str, row.capture)]["segments"][0]
        assert (row.label, row.value, row.start, row.end) == (
            "Exercise",
            expected["value"],
            expected["start"],
            expected["end"],
        )

    if fmt == "npz":
        data = {
            cast(str, row.capture): np.load(out / cast(str, row.file))
            for row in metadata.itertuples()
        }
        assert set(data) == wanted
        for name, arrays in data.items():
            assert sorted(arrays.files) == sorted(CHANNELS)
            assert arrays["GyroscopeZ"].shape == (samples_of[name],)
    else:
        samples = read(out / f"samples.{fmt}")
        assert list(samples.columns) == ["capture", "sample", *CHANNELS]
        sizes = samples.groupby("capture", observed=True).size()
        assert sizes.to_dict() == {name: samples_of[name] for name in wanted}
        first = sorted(wanted)[0]
        one = samples[samples["capture"] == first]
        count = samples_of[first]
        assert count is not None  # a processed capture knows its length
        assert list(one["sample"]) == list(range(count))
        original = pd.read_csv(shared_data / "watch" / "captures" / first)
        np.testing.assert_allclose(one[CHANNELS].to_numpy(), original.to_numpy())

    readme = (out / "README.md").read_text()
    assert f"{len(wanted)} captures" in readme and "both are included" in readme
    assert f"--format {fmt}" in readme and "--where Subject=S01,S03" in readme


def test_the_command_and_the_sdk_export_the_same_files(
    watch_project: WatchProject, run: Run, sdk: Client, tmp_path: Path
) -> None:
    by_command, by_sdk = tmp_path / "command", tmp_path / "sdk"
    result = run("export", "-p", watch_project.name, "-w", "Subject=S02,S04", "-o", str(by_command))
    assert result.exit_code == 0, result.output
    wanted = watch_project.names(Subject="S02") | watch_project.names(Subject="S04")
    assert result.stdout.strip() == (
        f"Exported {len(wanted)} captures ({len(wanted)} segments) to {by_command} as parquet; "
        f"see {by_command / 'README.md'}."
    )

    sdk.project = watch_project.name
    seen: list[tuple[int, int]] = []
    report = sdk.project.export(
        by_sdk,
        where={"Subject__in": ["S02", "S04"]},
        workers=3,
        progress=lambda done, total: seen.append((done, total)),
    )
    tables = ["samples.parquet", "metadata.parquet", "segments.parquet"]
    for name in tables:
        assert (by_sdk / name).read_bytes() == (by_command / name).read_bytes(), name
    assert report.files == [by_sdk / name for name in [*tables, "README.md"]]
    assert (report.captures, report.segments, report.left_out) == (len(wanted), len(wanted), [])
    samples_of = {c.name: c.number_samples or 0 for c in sdk.project.captures.get_captures()}
    assert report.samples == sum(samples_of[name] for name in wanted)
    assert seen == [(done, len(wanted)) for done in range(len(wanted) + 1)]

    # The READMEs differ only in the time of the export; both say how to make the folder again.
    def without_time(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if " UTC" not in line]

    assert without_time(report.readme) == without_time(by_command / "README.md")
    readme = report.readme.read_text()
    assert "--where Subject=S02,S04" in readme
    assert "where={'Subject__in': ['S02', 'S04']}" in readme


def test_export_errors(watch_project: WatchProject, sdk: Client, tmp_path: Path) -> None:
    sdk.project = watch_project.name
    with pytest.raises(ValueError, match="format must be one of parquet, csv, npz"):
        sdk.project.export(tmp_path / "out", format="xlsx")
    assert not (tmp_path / "out").exists()


def test_a_channel_named_like_an_export_column_is_refused(
    run: Run, sdk: Client, project_name: str, tmp_path: Path
) -> None:
    recording = tmp_path / "walk.csv"
    recording.write_text("sample,AccelerometerX\n0,1.5\n1,2.5\n")
    sdk.project = project_name
    sdk.project.captures.create_capture("walk.csv", recording, asynchronous=False)
    why = (
        "capture 'walk.csv' has a channel named 'sample', which the export uses for its own "
        "column; rename the channel (the CSV header) and upload the capture again"
    )
    with pytest.raises(CapturehubError) as refused:
        sdk.project.export(tmp_path / "by-sdk")
    assert refused.value.detail == why
    assert not (tmp_path / "by-sdk").exists()
    error = one_line_error(run("export", "-p", project_name, "-o", str(tmp_path / "by-command")))
    assert error == f"Error: {why}"
