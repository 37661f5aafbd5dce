"""Big files are measured in bounded memory: the peak RSS does not grow with the file.

Each file is bigger than the allowed growth, so an implementation that read it whole (or kept
its rows) would fail. The measurement runs in a fresh interpreter so other tests' memory does
not count, after a warm-up on a small file (pyarrow imports its pandas shim on first use, a
one-off cost of the process, not of the file).
"""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

ALLOWED_GROWTH_MB = 100

# VmHWM, not getrusage's ru_maxrss: on Linux ru_maxrss survives exec, so a child of a large
# pytest process would report the parent's peak.
PROBE = """
import json, sys
from pathlib import Path
from capturehub.ingest import measure

def status_kb(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))

small, big, fmt, out = sys.argv[1:5]
measure(Path(small), ".csv", Path(out))
base_kb = status_kb("VmRSS")
measurement = measure(Path(big), fmt, Path(out))
peak_kb = status_kb("VmHWM")
print(json.dumps({"rows": measurement.number_samples, "growth_mb": (peak_kb - base_kb) / 1024}))
"""


def run_probe(small: Path, big: Path, fmt: str, out: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(small), str(big), fmt, str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, float] = json.loads(result.stdout)
    return answer


def test_a_large_csv_is_measured_in_bounded_memory(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = rng.uniform(-2, 2, size=(20_000, 6))
    piece = "".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in rows).encode()
    repeats = (130 << 20) // len(piece) + 1
    big = tmp_path / "big.csv"
    with big.open("wb") as file:
        file.write(b"ax,ay,az,gx,gy,gz\n")
        for _ in range(repeats):
            file.write(piece)
    small = tmp_path / "small.csv"
    small.write_bytes(b"ax,ay\n1,2\n")
    assert big.stat().st_size > (ALLOWED_GROWTH_MB + 20) << 20

    answer = run_probe(small, big, ".csv", tmp_path / "out.arrow")

    assert answer["rows"] == 20_000 * repeats
    assert answer["growth_mb"] < ALLOWED_GROWTH_MB, answer


def test_a_large_wav_is_measured_in_bounded_memory(tmp_path: Path) -> None:
    big = tmp_path / "big.wav"
    frames = 40_000_000  # 160 MB of 16-bit stereo
    block = np.arange(-(1 << 15), 1 << 15, dtype="<i2").repeat(2)
    with wave.open(str(big), "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(48_000)
        for _ in range(frames // (1 << 16)):
            writer.writeframesraw(block.tobytes())
    small = tmp_path / "small.csv"
    small.write_bytes(b"ax,ay\n1,2\n")

    answer = run_probe(small, big, ".wav", tmp_path / "out.arrow")

    assert answer["rows"] == (frames // (1 << 16)) * (1 << 16)
    assert answer["growth_mb"] < ALLOWED_GROWTH_MB, answer
