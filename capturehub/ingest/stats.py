"""Per-channel statistics computed block by block, so a file of any size needs one block in memory.

Each block is summarised on its own (count, NaN count, min, max, mean and the sum of squared
deviations M2, all with numpy over a ``channels × rows`` float64 matrix, so the Python work per
block is constant whatever the row count) and summaries are merged with Chan, Golub and
LeVeque's pairwise formula. Two passes inside a block plus the pairwise merge keep the variance
accurate where the textbook ``E[x²] - E[x]²`` loses every digit (large offsets, small spread).

Non-finite values: NaN is counted in ``nan_count``; ±inf is left out of every statistic (it would
make mean and std meaningless and cannot be written in JSON).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from capturehub.ingest.measurement import ChannelStatistics

FloatMatrix = npt.NDArray[np.float64]


class RunningStatistics:
    """Statistics of several channels, fed with blocks of rows in any order."""

    def __init__(self, names: Sequence[str]) -> None:
        width = len(names)
        self.names = list(names)
        self.count = np.zeros(width, dtype=np.int64)
        self.nan_count = np.zeros(width, dtype=np.int64)
        self.mean = np.zeros(width, dtype=np.float64)
        self.m2 = np.zeros(width, dtype=np.float64)
        self.min = np.full(width, np.inf, dtype=np.float64)
        self.max = np.full(width, -np.inf, dtype=np.float64)

    @classmethod
    def of_block(
        cls, names: Sequence[str], block: FloatMatrix, *, workspace: FloatMatrix | None = None
    ) -> RunningStatistics:
        """Summarise one block: ``block[i]`` holds the values of channel ``names[i]``.

        ``workspace``, a scratch array of ``block``'s shape, saves allocating one per call.
        """
        stats = cls(names)
        if block.shape[1] == 0:
            return stats
        # A finite sum proves a row holds no NaN and no inf, so the common case costs one pass
        # to check and needs no masks.
        sums = block.sum(axis=1)
        clean = np.isfinite(sums)
        if clean.all():
            stats._set_clean(np.arange(block.shape[0]), block, sums, workspace)
        else:
            rows = np.flatnonzero(clean)
            if rows.size:
                stats._set_clean(rows, block[rows], sums[rows])
            for row in np.flatnonzero(~clean):
                stats._set_masked(int(row), block[row])
        return stats

    def _set_clean(
        self,
        rows: npt.NDArray[np.intp],
        values: FloatMatrix,
        sums: FloatMatrix,
        workspace: FloatMatrix | None = None,
    ) -> None:
        length = values.shape[1]
        mean = sums / length
        deviations = np.subtract(values, mean[:, None], out=workspace)
        self.count[rows] = length
        self.mean[rows] = mean
        self.m2[rows] = np.einsum("ij,ij->i", deviations, deviations)
        self.min[rows] = values.min(axis=1)
        self.max[rows] = values.max(axis=1)

    def _set_masked(self, row: int, values: npt.NDArray[np.float64]) -> None:
        self.nan_count[row] = int(np.count_nonzero(np.isnan(values)))
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return
        mean = finite.mean()
        deviations = finite - mean
        self.count[row] = finite.size
        self.mean[row] = mean
        self.m2[row] = float(deviations @ deviations)
        self.min[row] = finite.min()
        self.max[row] = finite.max()

    def merge(self, other: RunningStatistics) -> None:
        """Fold ``other`` (same channels) into this summary (Chan et al.'s pairwise update)."""
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
                mean=float(self.mean[i]),
                std=float(np.sqrt(max(self.m2[i], 0.0) / count)),
                nan_count=int(self.nan_count[i]),
            )
        return out
