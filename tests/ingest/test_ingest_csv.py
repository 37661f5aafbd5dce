"""CSV files capturehub accepts: layouts, types, time columns, statistics and the columnar copy."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from capturehub.ingest import COLUMNAR_MEDIA_TYPE, IngestError, measure, read_columnar
from capturehub.ingest.columnar import BATCH_ROWS

WriteFile = Callable[[str, bytes], Path]


def column(path: Path, name: str) -> np.ndarray:
    return read_columnar(path).column(name).to_numpy()


@pytest.mark.parametrize(
    "data",
    [
        b"a,b\n1,2.5\n3,4.5\n",
        b"a;b\n1;2.5\n3;4.5\n",
        b"a\tb\n1\t2.5\n3\t4.5\n",
        b"\xef\xbb\xbfa,b\r\n1,2.5\r\n3,4.5\r\n",
        b'"a","b"\n"1","2.5"\n3,4.5',  # quoted cells, no final newline
        b"a,b\n1,2.5\n\n3,4.5\n\n",  # blank lines are skipped
    ],
    ids=["comma", "semicolon", "tab", "bom-crlf", "quoted-no-final-newline", "blank-lines"],
)
def test_layouts_give_the_same_capture(write_file: WriteFile, tmp_path: Path, data: bytes) -> None:
    out = tmp_path / "out.arrow"
    measurement = measure(write_file("in.csv", data), ".csv", out)
    assert measurement.number_samples == 2
    assert measurement.schema == {"a": {"type": "int"}, "b": {"type": "float"}}
    assert measurement.statistics["b"].mean == 3.5
    np.testing.assert_array_equal(column(out, "a"), [1, 3])
    np.testing.assert_array_equal(column(out, "b"), [2.5, 4.5])


def test_decimal_commas_with_semicolons(write_file: WriteFile, tmp_path: Path) -> None:
    out = tmp_path / "out.arrow"
    path = write_file("in.csv", b"x;y\n1,5;2\n-0,25;3\n1e2;4\n")
    measurement = measure(path, ".csv", out)
    assert measurement.schema == {"x": {"type": "float"}, "y": {"type": "int"}}
    np.testing.assert_array_equal(column(out, "x"), [1.5, -0.25, 100.0])


def test_format_name_is_forgiving(write_file: WriteFile) -> None:
    path = write_file("in.csv", b"a\n1\n")
    assert measure(path, "CSV").number_samples == 1
    assert measure(path, ".Csv").number_samples == 1
    with pytest.raises(IngestError, match=re.escape('unsupported format ".txt"')):
        measure(path, ".txt")


def test_one_data_row(write_file: WriteFile) -> None:
    measurement = measure(write_file("in.csv", b"x,y\n7,-2.5\n"), ".csv")
    assert measurement.number_samples == 1
    assert measurement.max_sequence == 0
    stats = measurement.statistics["y"]
    assert (stats.count, stats.min, stats.max, stats.mean, stats.std) == (1, -2.5, -2.5, -2.5, 0.0)


def test_nan_and_infinity(write_file: WriteFile, tmp_path: Path) -> None:
    out = tmp_path / "out.arrow"
    data = b"a,b\n1,nan\n2,inf\n3,-inf\n4,NaN\n5,2.0\n6,4.0\n"
    measurement = measure(write_file("in.csv", data), ".csv", out)
    stats = measurement.statistics["b"]
    # NaN is counted; infinities are left out of every statistic (count + nan_count + 2 = 6).
    assert (stats.count, stats.nan_count) == (2, 2)
    assert (stats.min, stats.max, stats.mean, stats.std) == (2.0, 4.0, 3.0, 1.0)
    summary = measurement.to_summary()
    json.dumps(summary, allow_nan=False)
    stored = column(out, "b")
    assert np.isnan(stored[[0, 3]]).all()
    assert stored[1] == np.inf and stored[2] == -np.inf


def test_a_column_of_nan_only_has_empty_statistics(write_file: WriteFile) -> None:
    measurement = measure(write_file("in.csv", b"a,b\n1,nan\n2,nan\n"), ".csv")
    assert measurement.statistics["b"].to_dict() == {
        "count": 0,
        "min": None,
        "max": None,
        "mean": None,
        "std": None,
        "nan_count": 2,
    }


def test_sequence_column(write_file: WriteFile, tmp_path: Path) -> None:
    out = tmp_path / "out.arrow"
    path = write_file("in.csv", b"Sequence,x\n10,1.5\n12,2.5\n11,3.5\n")
    measurement = measure(path, ".csv", out)
    assert measurement.number_samples == 3
    assert measurement.max_sequence == 12
    assert measurement.schema == {"sequence": {"type": "int"}, "x": {"type": "float"}}
    assert measurement.channels == ["x"]
    assert list(measurement.statistics) == ["x"]
    table = read_columnar(out)
    assert table.schema.field("sequence").type == pa.int64()
    np.testing.assert_array_equal(table.column("sequence").to_numpy(), [10, 12, 11])


def test_iso_timestamps_with_offsets_become_utc(write_file: WriteFile, tmp_path: Path) -> None:
    out = tmp_path / "out.arrow"
    data = (
        b"TimeStamp,x\n"
        b"2024-05-01T12:00:00Z,1\n"
        b"2024-05-01T14:00:00.010+02:00,2\n"
        b"2024-05-01T12:00:00.020Z,3\n"
        b"2024-05-01T12:00:00.030Z,4\n"
    )
    measurement = measure(write_file("in.csv", data), ".csv", out)
    assert measurement.schema == {"x": {"type": "int"}}
    assert measurement.channels == ["x"]
    assert measurement.calculated_sample_rate == pytest.approx(100.0)
    table = read_columnar(out)
    assert table.schema.field("timestamp").type == pa.timestamp("ns", tz="UTC")
    start = np.datetime64("2024-05-01T12:00:00", "ns").astype(np.int64)
    expected = start + np.array([0, 10, 20, 30]) * 1_000_000
    np.testing.assert_array_equal(table.column("timestamp").to_numpy().view(np.int64), expected)


def test_numeric_timestamps_are_seconds(write_file: WriteFile, tmp_path: Path) -> None:
    out = tmp_path / "out.arrow"
    rows = "".join(f"{i * 0.004:.3f},{i}\n" for i in range(100))
    gap = "10.000,100\n"  # a pause in the recording must not move the rate
    measurement = measure(
        write_file("in.csv", ("timestamp,x\n" + rows + gap).encode()), ".csv", out
    )
    assert measurement.calculated_sample_rate == pytest.approx(250.0)
    table = read_columnar(out)
    assert table.schema.field("timestamp").type == pa.float64()
    assert table.column("timestamp")[1].as_py() == 0.004


def test_ten_thousand_columns(write_file: WriteFile, tmp_path: Path) -> None:
    names = [f"c{i}" for i in range(10_000)]
    rng = np.random.default_rng(1)
    values = rng.normal(size=(3, len(names))).round(6)
    lines = [",".join(names)] + [",".join(f"{v:.6f}" for v in row) for row in values]
    out = tmp_path / "out.arrow"
    measurement = measure(write_file("wide.csv", ("\n".join(lines) + "\n").encode()), ".csv", out)
    assert measurement.number_samples == 3
    assert len(measurement.schema) == 10_000
    for index in (0, 4321, 9999):
        stats = measurement.statistics[names[index]]
        assert stats.mean == pytest.approx(values[:, index].mean(), rel=1e-12)
        assert stats.std == pytest.approx(values[:, index].std(), rel=1e-9)
    np.testing.assert_array_equal(column(out, "c9999"), values[:, 9999])


def test_many_blocks_match_numpy(write_file: WriteFile, tmp_path: Path, small_blocks: int) -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(loc=1e6, scale=1e-3, size=(500, 3))  # large offset, tiny spread
    text = "a,b,c\n" + "".join(",".join(repr(float(v)) for v in row) + "\n" for row in values)
    out = tmp_path / "out.arrow"
    measurement = measure(write_file("in.csv", text.encode()), ".csv", out)
    assert measurement.number_samples == 500
    table = read_columnar(out)
    assert len(text) > 10 * small_blocks  # really several blocks (rejoined in the copy)
    for index, name in enumerate("abc"):
        stats = measurement.statistics[name]
        assert stats.mean == pytest.approx(values[:, index].mean(), rel=1e-15)
        assert stats.std == pytest.approx(values[:, index].std(), rel=1e-12)
        np.testing.assert_array_equal(table.column(name).to_numpy(), values[:, index])


@pytest.mark.parametrize("final_newline", [True, False])
def test_files_around_one_block_keep_every_row(
    write_file: WriteFile, tmp_path: Path, small_blocks: int, final_newline: bool
) -> None:
    """Read buffers are sized to the file when it is smaller than a block: a file ending
    just before, at or just after a block's size still gives every row, once."""
    for rows in range(20, 140):  # 42 to 281 bytes: around both block sizes (64, 256)
        text = "a\n" + "".join(f"{row % 10}\n" for row in range(rows))
        data = text.encode() if final_newline else text.encode()[:-1]
        measurement = measure(write_file(f"{rows}.csv", data), ".csv", tmp_path / f"{rows}.arrow")
        assert measurement.number_samples == rows, (rows, len(data))
        np.testing.assert_array_equal(
            column(tmp_path / f"{rows}.arrow", "a"), [row % 10 for row in range(rows)]
        )


def test_integer_column_with_a_late_fraction_becomes_float(
    write_file: WriteFile, tmp_path: Path, small_blocks: int
) -> None:
    rows = [f"{i},{i}" for i in range(200)] + ["200,200.5"]
    out = tmp_path / "out.arrow"
    measurement = measure(write_file("in.csv", ("i,x\n" + "\n".join(rows)).encode()), ".csv", out)
    assert measurement.schema == {"i": {"type": "int"}, "x": {"type": "float"}}
    assert read_columnar(out).schema.field("x").type == pa.float64()
    assert column(out, "x")[-1] == 200.5
    assert measurement.statistics["x"].max == 200.5


def test_read_columnar_slices(write_file: WriteFile, tmp_path: Path, small_blocks: int) -> None:
    out = tmp_path / "out.arrow"
    measure(
        write_file("in.csv", ("v\n" + "".join(f"{i}\n" for i in range(300))).encode()), ".csv", out
    )
    whole = np.arange(300)
    for start, end in [(None, None), (0, 300), (5, 6), (37, 251), (299, None), (250, 10_000)]:
        got = read_columnar(out, start, end).column("v").to_numpy()
        np.testing.assert_array_equal(got, whole[start:end])
    assert read_columnar(out, 120, 120).num_rows == 0
    assert read_columnar(out, 400, 500).num_rows == 0
    with pytest.raises(ValueError):
        read_columnar(out, -1, 5)


def test_columnar_file_is_arrow_ipc(write_file: WriteFile, tmp_path: Path) -> None:
    out = tmp_path / "out.arrow"
    measure(write_file("in.csv", b"a\n1\n"), ".csv", out)
    assert COLUMNAR_MEDIA_TYPE == "application/vnd.apache.arrow.file"
    with pa.memory_map(str(out)) as source:
        reader = pa.ipc.open_file(source)
        assert reader.schema.metadata == {
            b"capturehub.source_format": b"csv",
            b"capturehub.batch_rows": str(BATCH_ROWS).encode(),
        }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.arrow"]


def test_failed_measure_leaves_no_columnar_file(
    write_file: WriteFile, tmp_path: Path, small_blocks: int
) -> None:
    out = tmp_path / "out.arrow"
    rows = "".join(f"{i}\n" for i in range(200)) + "oops\n"
    with pytest.raises(IngestError):
        measure(write_file("in.csv", ("v\n" + rows).encode()), ".csv", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_summary_is_plain_json(write_file: WriteFile) -> None:
    measurement = measure(write_file("in.csv", b"timestamp,a\n0,1\n0.5,3\n"), ".csv")
    assert measurement.to_summary() == {
        "number_samples": 2,
        "max_sequence": 1,
        "schema": {"a": {"type": "int"}},
        "calculated_sample_rate": 2.0,
        "header_sample_rate": None,
        "statistics": {
            "a": {"count": 2, "min": 1.0, "max": 3.0, "mean": 2.0, "std": 1.0, "nan_count": 0}
        },
        "channels": ["a"],
    }
