"""What measuring a capture file yields: plain data the server stores as the capture's summary.

Kept free of any parsing code so the server (and tests) can build and read these without
touching a file. ``to_summary`` returns only JSON types: non-finite floats become ``None``,
because strict JSON (and PostgreSQL's jsonb) has no NaN or Infinity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


def _json_float(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass
class ChannelStatistics:
    """Statistics of one channel column.

    ``count`` is the number of finite values, and ``min``, ``max``, ``mean`` and ``std`` are
    computed over those alone (``None`` when there is none). ``nan_count`` counts NaN values.
    Infinite values are left out of both, so ``number_samples - count - nan_count`` is the
    number of infinities. ``std`` is the population standard deviation (ddof=0), as
    ``numpy.std`` computes by default.
    """

    count: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    nan_count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "min": _json_float(self.min),
            "max": _json_float(self.max),
            "mean": _json_float(self.mean),
            "std": _json_float(self.std),
            "nan_count": self.nan_count,
        }


@dataclass
class Measurement:
    """The summary of one capture file.

    ``max_sequence`` is the largest sample index: the maximum of the CSV's ``sequence`` column
    when it has one, else ``number_samples - 1`` (segments end at ``n - 1`` inclusive).
    ``schema`` maps each channel column (and ``sequence`` when present) to
    ``{"type": "int" | "float"}``; a timestamp column is time, not a channel, so it is absent.
    ``calculated_sample_rate`` comes from a CSV's timestamps (``None`` without them, and for
    WAV); ``header_sample_rate`` is a WAV header's rate (``None`` for CSV).
    """

    number_samples: int
    max_sequence: int
    schema: dict[str, dict[str, str]]
    calculated_sample_rate: float | None
    header_sample_rate: float | None
    statistics: dict[str, ChannelStatistics] = field(default_factory=dict)
    channels: list[str] = field(default_factory=list)

    def to_summary(self) -> dict[str, Any]:
        return {
            "number_samples": self.number_samples,
            "max_sequence": self.max_sequence,
            "schema": {name: dict(entry) for name, entry in self.schema.items()},
            "calculated_sample_rate": _json_float(self.calculated_sample_rate),
            "header_sample_rate": _json_float(self.header_sample_rate),
            "statistics": {name: stats.to_dict() for name, stats in self.statistics.items()},
            "channels": list(self.channels),
        }
