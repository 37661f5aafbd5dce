"""Per-channel statistics computed block by block, so a file of any size needs one block in memory.

Each block is summarised on its own (count, NaN count, min, max, mean and the sum of squared
deviations M2, all with numpy over a ``channels × rows`` float64 matrix, so the Python work per
block is constant whatever the row count) and summaries are merged with Chan, Golub and
LeVeque's pairwise formula. Two passes inside a block plus the pairwise merge keep the variance
accurate where the textbook ``E[x²] - E[x]²`` loses every digit.

Means and M2 are kept relative to a per-channel ``shift``, the channel's first value: a
barometer reading 101325.0 ± 0.01 Pa would otherwise round its running mean at every merge and
lose half of the variance's digits over a long file.

Non-finite values: NaN is counted in ``nan_count``; ±inf is left out of every statistic (it would
make mean and std meaningless and cannot be written in JSON).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from capturehub.ingest.measurement import ChannelStatistics

FloatMatrix = npt.NDArray[np.float64]
FloatVector = npt.NDArray[np.float64]


class RunningStatistics:
    """Statistics of several channels, fed with blocks of rows in any order."""

    def __init__(self, names: Sequence[str], shift: FloatVector | None = None) -> None:
        width = len(names)
        self.names = list(names)
        self.shift = np.zeros(width) if shift is None else np.asarray(shift, dtype=np.float64)
        self.count = np.zeros(width, dtype=np.int64)
        self.nan_count = np.zeros(width, dtype=np.int64)
        self.mean = np.zeros(width, dtype=np.float64)  # relative to shift
        self.m2 = np.zeros(width, dtype=np.float64)
        self.min = np.full(width, np.inf, dtype=np.float64)
        self.max = np.full(width, -np.inf, dtype=np.float64)

    @classmethod
    def of_block(
        cls,
        names: Sequence[str],
        block: FloatMatrix,
        *,
        shift: FloatVector | None = None,
        workspace: FloatMatrix | None = None,
    ) -> RunningStatistics:
        """Summarise one block: ``block[i]`` holds the values of channel ``names[i]``.

        ``workspace``, a scratch array of ``block``'s shape, saves allocating one per call.
        """
        stats = cls(names, shift)
        if block.shape[1] == 0:
            return stats
        shifted = np.subtract(block, stats.shift[:, None], out=workspace)
        # A finite sum proves a row holds no NaN and no inf, so the common case costs one pass
        # to check and needs no masks.
        sums = shifted.sum(axis=1)
        clean = np.isfinite(sums)
        if clean.all():
            length = block.shape[1]
            mean = sums / length
            deviations = np.subtract(shifted, mean[:, None], out=shifted)
            stats.count[:] = length
            stats.mean[:] = mean
            stats.m2[:] = np.einsum("ij,ij->i", deviations, deviations)
            stats.min[:] = block.min(axis=1)
            stats.max[:] = block.max(axis=1)
            return stats
        for row in range(block.shape[0]):
            stats._set_row(row, block[row], shifted[row])
        return stats

    def _set_row(self, row: int, values: FloatVector, shifted: FloatVector) -> None:
        self.nan_count[row] = int(np.count_nonzero(np.isnan(values)))
        finite = np.isfinite(values)
        if not finite.any():
            return
        kept = shifted[finite]
        mean = kept.mean()
        deviations = kept - mean
        self.count[row] = kept.size
        self.mean[row] = mean
        self.m2[row] = float(deviations @ deviations)
        self.min[row] = values[finite].min()
        self.max[row] = values[finite].max()

    def merge(self, other: RunningStatistics) -> None:
        """Fold ``other`` (same channels, same shift) into this summary (Chan et al.)."""
        if not np.array_equal(self.shift, other.shift):
            raise ValueError("cannot merge statistics taken relative to different shifts")
        total = self.count + other.count
        safe_total = np.where(total > 0, total, 1).astype(np.float64)
        delta = other.mean - self.mean
        share = other.count / safe_total
        self.mean = self.mean + delta * share
        self.m2 = self.m2 + other.m2 + delta * delta * self.count * share
        self.count = total
        self.nan_count = self.nan_count + other.nan_count
        self.min = np.minimum(self.min, other.min)
        self.max = np.maximum(self.max, other.max)

    def result(self) -> dict[str, ChannelStatistics]:
        out: dict[str, ChannelStatistics] = {}
        for i, name in enumerate(self.names):
            count = int(self.count[i])
            if count == 0:
                out[name] = ChannelStatistics(0, None, None, None, None, int(self.nan_count[i]))
                continue
            out[name] = ChannelStatistics(
                count=count,
                min=float(self.min[i]),
                max=float(self.max[i]),
                mean=float(self.shift[i] + self.mean[i]),
                std=float(np.sqrt(max(self.m2[i], 0.0) / count)),
                nan_count=int(self.nan_count[i]),
            )
        return out


def typical_values(block: FloatMatrix) -> FloatVector:
    """A shift for each row of ``block``: its first finite value (0 if it has none).

    A value from the data lies within the data's range, which is all the shifted algorithm
    needs, and for integer data it keeps every shifted value exact.
    """
    if block.shape[1] == 0:
        return np.zeros(block.shape[0])
    finite = np.isfinite(block)
    first = np.argmax(finite, axis=1)
    values = block[np.arange(block.shape[0]), first]
    return np.where(finite.any(axis=1), values, 0.0)
