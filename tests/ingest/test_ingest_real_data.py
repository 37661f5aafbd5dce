"""measure() on the real recordings in shared/data, checked against independent readers.

The expected numbers come from numpy.loadtxt, the csv and datetime modules and the stdlib
wave module, never from capturehub's own code path.
"""

from __future__ import annotations

import csv
import json
import wave
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from capturehub.ingest import IngestError, Measurement, measure, read_columnar

WATCH_CHANNELS = [
    "AccelerometerX",
    "AccelerometerY",
    "AccelerometerZ",
    "GyroscopeX",
    "GyroscopeY",
    "GyroscopeZ",
]
WATCH_SAMPLES = [
    "S07_1_PEN_000.csv",
    "S10_1_FEL_001.csv",
    "S01_0_ABD_007.csv",
    "S01_0_ER_115.csv",
    "S02_0_FEL_121.csv",
    "S01_1_TRAP_003.csv",
]


def assert_statistics(measurement: Measurement, name: str, values: np.ndarray) -> None:
    stats = measurement.statistics[name]
    assert stats.count == values.size
    assert stats.nan_count == 0
    assert stats.min == values.min()
    assert stats.max == values.max()
    scale = float(np.abs(values).max())  # rounding is relative to the values, not the mean
    assert stats.mean == pytest.approx(values.mean(), rel=1e-12, abs=1e-13 * scale)
    assert stats.std == pytest.approx(values.std(ddof=0), rel=1e-10)


def watch_files(data_dir: Path) -> list[Path]:
    files = sorted((data_dir / "watch" / "captures").glob("*.csv"))
    assert len(files) == 140, f"expected 140 watch captures in {data_dir / 'watch'}"
    return files


def test_watch_samples_against_loadtxt(data_dir: Path, tmp_path: Path) -> None:
    manifest = {
        Path(entry["file"]).name: entry
        for entry in json.loads((data_dir / "watch" / "manifest.json").read_text())
    }
    for name in WATCH_SAMPLES:
        path = data_dir / "watch" / "captures" / name
        expected = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
        out = tmp_path / f"{name}.arrow"
        measurement = measure(path, ".csv", out)

        assert measurement.number_samples == expected.shape[0]
        assert measurement.max_sequence == manifest[name]["segments"][0]["end"]
        assert measurement.channels == WATCH_CHANNELS
        assert measurement.schema == {c: {"type": "float"} for c in WATCH_CHANNELS}
        assert measurement.calculated_sample_rate is None
        assert measurement.header_sample_rate is None
        table = read_columnar(out)
        assert table.column_names == WATCH_CHANNELS
        for index, channel in enumerate(WATCH_CHANNELS):
            assert_statistics(measurement, channel, expected[:, index])
            np.testing.assert_array_equal(table.column(channel).to_numpy(), expected[:, index])
        json.dumps(measurement.to_summary(), allow_nan=False)


def test_every_watch_capture_counts_its_lines(data_dir: Path) -> None:
    for path in watch_files(data_dir):
        with path.open("rb") as file:
            rows = sum(1 for line in file if line.strip()) - 1
        measurement = measure(path, ".csv")
        assert measurement.number_samples == rows, path.name
        assert measurement.max_sequence == rows - 1, path.name


def test_daphnet_with_timestamps(data_dir: Path, tmp_path: Path) -> None:
    path = data_dir / "daphnet" / "S06R02E0.csv"
    with path.open(newline="") as file:
        rows = list(csv.reader(file))
    header, body = rows[0], rows[1:]
    channels = header[1:]
    values = np.array([[float(v) for v in row[1:]] for row in body])
    times = [datetime.fromisoformat(row[0]) for row in body]
    epoch = datetime(1970, 1, 1)
    microsecond = timedelta(microseconds=1)
    nanoseconds = np.array([(t - epoch) // microsecond * 1000 for t in times], dtype=np.int64)
    out = tmp_path / "daphnet.arrow"

    measurement = measure(path, ".csv", out)

    assert header[0] == "timestamp"
    assert measurement.number_samples == len(body) == 7040
    assert measurement.max_sequence == len(body) - 1
    assert measurement.channels == channels
    assert measurement.schema == {c: {"type": "int"} for c in channels}
    for index, channel in enumerate(channels):
        assert_statistics(measurement, channel, values[:, index])
    # Rate: the mean spacing among spacings within ±50 % of the median (see rate.py); the
    # recording is 64 Hz with timestamps rounded to whole milliseconds.
    spacings = np.diff(nanoseconds) / 1e9
    median = np.median(spacings)
    typical = spacings[(spacings > 0.5 * median) & (spacings < 1.5 * median)]
    assert measurement.calculated_sample_rate == pytest.approx(1 / typical.mean(), rel=1e-12)
    assert measurement.calculated_sample_rate == pytest.approx(64.0, abs=0.01)
    assert measurement.header_sample_rate is None

    table = read_columnar(out)
    assert table.column_names == ["timestamp", *channels]
    assert str(table.schema.field("timestamp").type) == "timestamp[ns]"
    np.testing.assert_array_equal(table.column("timestamp").to_numpy().view(np.int64), nanoseconds)
    for index, channel in enumerate(channels):
        np.testing.assert_array_equal(table.column(channel).to_numpy(), values[:, index])
    middle = read_columnar(out, 1000, 1010)
    np.testing.assert_array_equal(middle.column(channels[0]).to_numpy(), values[1000:1010, 0])


def test_geneactiv_vendor_export_is_refused_with_a_hint(data_dir: Path) -> None:
    with pytest.raises(IngestError) as caught:
        measure(data_dir / "geneactiv" / "demo_data.csv", ".csv")
    assert caught.value.line == 2
    assert caught.value.column == "Device Type"
    message = str(caught.value)
    assert message.startswith('line 2, column "Device Type": "Device Model" is not a number')
    assert "preamble" in message and "header" in message


@pytest.mark.parametrize("name", ["BM003.wav", "deermouse-go.wav"])
def test_real_wav_against_stdlib_wave(data_dir: Path, tmp_path: Path, name: str) -> None:
    path = data_dir / "audio" / name
    with wave.open(str(path), "rb") as reader:
        assert reader.getsampwidth() == 2
        rate, frames = reader.getframerate(), reader.getnframes()
        samples = np.frombuffer(reader.readframes(frames), dtype="<i2")
    out = tmp_path / "audio.arrow"

    measurement = measure(path, ".wav", out)

    assert measurement.number_samples == frames
    assert measurement.max_sequence == frames - 1
    assert measurement.header_sample_rate == float(rate)
    assert measurement.calculated_sample_rate is None
    assert measurement.schema == {"channel_0": {"type": "int"}}
    assert measurement.channels == ["channel_0"]
    assert_statistics(measurement, "channel_0", samples.astype(np.float64))
    table = read_columnar(out)
    assert str(table.schema.field("channel_0").type) == "int16"
    np.testing.assert_array_equal(table.column("channel_0").to_numpy(), samples)
    np.testing.assert_array_equal(
        read_columnar(out, frames - 5, None).column(0).to_numpy(), samples[-5:]
    )
