"""Empty CSV cells are missing samples: NaN in the copy, counted in the channel's ``nan_count``.

The expected counts and values come from the file itself, read with the standard ``csv``
module and with pandas (which is how many users, and other servers, read these files), never
from capturehub's reader.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from capturehub.ingest import IngestError, measure, read_columnar
from tests.ingest.ingest_helpers import empty_cells_per_column, merged_sensors_csv

WriteFile = Callable[[str, bytes], Path]


@pytest.mark.parametrize("blocks", ["small blocks", "real blocks"])
def test_empty_cells_are_nan_and_counted(
    write_file: WriteFile, tmp_path: Path, blocks: str, request: pytest.FixtureRequest
) -> None:
    if blocks == "small blocks":
        request.getfixturevalue("small_blocks")
        rows = 600
    else:
        rows = 120_000  # ~4 MB: several real 2 MiB blocks
    data = merged_sensors_csv(rows)
    empty = empty_cells_per_column(data)
    assert empty["temp"] > 0 and empty["late"] > 0 and empty["gyro"] == rows // 2
    expected = pd.read_csv(io.BytesIO(data))
    out = tmp_path / "out.arrow"

    measurement = measure(write_file("merged.csv", data), ".csv", out)

    assert measurement.number_samples == rows
    channels = ["accel", "gyro", "temp", "late", "quoted"]
    assert measurement.channels == channels
    # An integer column with gaps is float, as pandas reads it (NaN is not an integer).
    assert measurement.schema == {name: {"type": "float"} for name in channels}
    table = read_columnar(out)
    for name in channels:
        stats = measurement.statistics[name]
        values = expected[name].to_numpy(dtype=np.float64)
        assert stats.nan_count == empty[name] == int(np.isnan(values).sum()), name
        assert stats.count == rows - empty[name], name
        assert stats.mean == pytest.approx(float(np.nanmean(values)), rel=1e-12), name
        assert stats.std == pytest.approx(float(np.nanstd(values)), rel=1e-9), name
        assert (stats.min, stats.max) == (np.nanmin(values), np.nanmax(values)), name
        stored = table.column(name)
        assert stored.null_count == 0, "missing samples are stored as NaN, not as nulls"
        np.testing.assert_array_equal(stored.to_numpy(), values)


def test_nan_written_out_and_empty_cells_add_up(write_file: WriteFile) -> None:
    measurement = measure(write_file("in.csv", b"a,b\n1,NaN\n2,\n3,4.5\n,nan\n"), ".csv")
    assert measurement.statistics["b"].to_dict() == {
        "count": 1,
        "min": 4.5,
        "max": 4.5,
        "mean": 4.5,
        "std": 0.0,
        "nan_count": 3,
    }
    assert measurement.statistics["a"].nan_count == 1
    assert measurement.schema["a"] == {"type": "float"}


def test_a_row_of_empty_channels_is_kept(write_file: WriteFile, tmp_path: Path) -> None:
    out = tmp_path / "out.arrow"
    measurement = measure(write_file("in.csv", b"sequence,a,b\n0,1,2\n1,,\n2,3,4\n"), ".csv", out)
    assert measurement.number_samples == 3
    assert measurement.schema["sequence"] == {"type": "int"}
    assert np.isnan(read_columnar(out).column("a").to_numpy()[1])


def test_a_channel_empty_in_the_first_blocks_is_accepted(
    write_file: WriteFile, small_blocks: int
) -> None:
    data = b"a,b\n" + b"".join(f"{i},\n".encode() for i in range(200)) + b"200,7\n"
    measurement = measure(write_file("in.csv", data), ".csv")
    assert measurement.statistics["b"].count == 1
    assert measurement.statistics["b"].nan_count == 200


def test_a_channel_with_no_value_at_all_is_refused(
    write_file: WriteFile, tmp_path: Path, small_blocks: int
) -> None:
    out = tmp_path / "out.arrow"
    data = b"a,b\n" + b"".join(f"{i},\n".encode() for i in range(300))
    with pytest.raises(IngestError) as caught:
        measure(write_file("in.csv", data), ".csv", out)
    assert str(caught.value) == (
        'column "b": every one of its 300 cells is empty; remove the column, or fill in its '
        "values (an empty cell is a missing sample, but a channel needs at least one)"
    )
    assert caught.value.column == "b"
    assert not out.exists(), "no columnar copy of a refused file"
    assert list(tmp_path.iterdir()) == [tmp_path / "in.csv"]
