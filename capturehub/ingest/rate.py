"""A capture's sample rate, computed from its timestamps.

Why not simply ``1 / median(spacing)``: recorders round timestamps (Daphnet writes whole
milliseconds for a 64 Hz signal, so its spacings are 15 and 16 ms, median 16 ms, 62.5 Hz). The
median is used to find the typical spacing, robust to gaps and repeated times; the rate is then
one over the *mean* of the spacings within ±50 % of that median, which averages the rounding
away (64.0 Hz for Daphnet) while gaps and duplicates still cannot move it.

Only the first ``TIMESTAMP_PREFIX`` spacings are looked at, so a file of any length costs at
most a few MB here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

TIMESTAMP_PREFIX = 1_000_000


def sample_rate_from_times(
    times: npt.NDArray[np.number[Any]], *, seconds_per_unit: float
) -> float | None:
    """Samples per second of ``times`` (in units of ``seconds_per_unit``), or None if unknown."""
    if len(times) < 2:
        return None
    # Differences in the original unit first: int64 nanoseconds subtract exactly.
    spacings = np.diff(times[: TIMESTAMP_PREFIX + 1]).astype(np.float64)
    spacings = spacings[np.isfinite(spacings)]
    if spacings.size == 0:
        return None
    median = float(np.median(spacings))
    if median <= 0:
        return None  # times that do not increase say nothing about a rate
    typical = spacings[(spacings > 0.5 * median) & (spacings < 1.5 * median)]
    return 1.0 / (float(typical.mean()) * seconds_per_unit)
