"""The dataset ``capturehub demo`` imports: the real watch recordings when they are at hand,
else a generated one shaped like them.

The watch dataset (140 smartwatch recordings of shoulder exercises, ``shared/data/watch``) is
looked for beside the current folder and beside the capturehub checkout. The generated one has
the same shape: a few subjects, six channels (accelerometer and gyroscope, x/y/z) at 50 Hz,
metadata ``Subject`` and ``Side``, and one ``Exercise`` segment over each recording; each
exercise moves at its own pace, so the classes are separable.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

WATCH_PARTS = ("shared", "data", "watch")
CHANNELS = [
    "AccelerometerX",
    "AccelerometerY",
    "AccelerometerZ",
    "GyroscopeX",
    "GyroscopeY",
    "GyroscopeZ",
]
# Exercise → its movement frequency in Hz.
EXERCISES = {"PEN": 0.5, "ABD": 0.3, "FEL": 0.25, "ROW": 0.4}
SAMPLE_RATE = 50


def find_watch_dataset(start: Path | None = None) -> Path | None:
    """The manifest of the shared watch dataset, beside the current folder or the checkout."""
    checkout = Path(__file__).resolve().parents[2]
    for base in (start or Path.cwd(), checkout):
        manifest = base.resolve().parent.joinpath(*WATCH_PARTS, "manifest.json")
        if manifest.is_file():
            return manifest
    return None


def generate_dataset(
    folder: Path, *, subjects: int = 4, repetitions: int = 2, seconds: float = 12.0
) -> Path:
    """Write a watch-like dataset (CSVs and ``manifest.json``) into ``folder``; answer the
    manifest. The same arguments always write the same files (seeded), so a second demo run
    finds them already uploaded."""
    rng = random.Random(20240501)
    captures = folder / "captures"
    captures.mkdir(parents=True, exist_ok=True)
    entries = []
    number = 0
    for subject in range(1, subjects + 1):
        for exercise, frequency in EXERCISES.items():
            for _ in range(repetitions):
                side = rng.choice("01")
                name = f"S{subject:02d}_{side}_{exercise}_{number:03d}.csv"
                samples = int(seconds * SAMPLE_RATE * rng.uniform(0.8, 1.2))
                _write_recording(captures / name, samples, frequency, rng)
                entries.append(
                    {
                        "file": f"captures/{name}",
                        "sample_rate_hz": SAMPLE_RATE,
                        "metadata": {"Subject": f"S{subject:02d}", "Side": side},
                        "segments": [
                            {"label": "Exercise", "value": exercise, "start": 0, "end": samples - 1}
                        ],
                    }
                )
                number += 1
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps(entries, indent=1) + "\n")
    return manifest


def _write_recording(path: Path, samples: int, frequency: float, rng: random.Random) -> None:
    phase = rng.uniform(0, 2 * math.pi)
    amplitude = rng.uniform(0.6, 1.4)
    lines = [",".join(CHANNELS)]
    for index in range(samples):
        angle = 2 * math.pi * frequency * index / SAMPLE_RATE + phase
        motion = amplitude * math.sin(angle)
        values = [
            -1.0 + 0.3 * motion,
            0.4 * math.cos(angle),
            0.2 * motion,
            2.0 * math.cos(angle) * frequency * 4,
            1.5 * motion,
            0.5 * math.sin(2 * angle),
        ]
        lines.append(",".join(f"{value + rng.gauss(0, 0.02):.6f}" for value in values))
    path.write_text("\n".join(lines) + "\n")
