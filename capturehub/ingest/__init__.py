"""Reading capture files: validate them, measure them, and write their columnar copy.

Pure functions over files: no web framework, no database. The job runner calls ``measure`` on
an uploaded file and stores the returned ``Measurement`` and the columnar copy; readers of
sample data then use ``read_columnar``. A file that cannot be processed raises ``IngestError``
and nothing else (an ``OSError`` means the disk failed, not the file, and is left as it is so
the job can be retried).
"""

from __future__ import annotations

import csv
import os
import struct
from pathlib import Path

import pyarrow as pa

from capturehub.ingest.columnar import COLUMNAR_MEDIA_TYPE, read_columnar
from capturehub.ingest.csvfile import measure_csv
from capturehub.ingest.errors import IngestError
from capturehub.ingest.measurement import ChannelStatistics, Measurement
from capturehub.ingest.wavfile import measure_wav

__all__ = [
    "COLUMNAR_MEDIA_TYPE",
    "ChannelStatistics",
    "IngestError",
    "Measurement",
    "measure",
    "read_columnar",
]


def measure(source: Path, format: str, columnar_out: Path | None = None) -> Measurement:
    """Read, validate and measure ``source``; write its columnar copy to ``columnar_out``.

    ``format`` is the upload's extension, ``".csv"`` or ``".wav"`` (case and the dot are
    optional). The columnar copy appears at ``columnar_out`` only when the whole file was
    read successfully (it is written to a temporary name and renamed).
    """
    source = Path(os.fspath(source))
    kind = format.lower().lstrip(".")
    out = Path(os.fspath(columnar_out)) if columnar_out is not None else None
    try:
        if kind == "csv":
            return measure_csv(source, out)
        if kind == "wav":
            return measure_wav(source, out)
    except IngestError:
        raise
    except OSError:
        raise  # the disk's fault, not the file's: let the job runner retry or report it
    except (
        pa.ArrowException,
        ValueError,
        struct.error,
        csv.Error,
        OverflowError,
        MemoryError,
    ) as error:
        # Every known bad input has its own message; this is the safety net for the unforeseen.
        raise IngestError(f"the file could not be read: {error}") from error
    raise IngestError(f'unsupported format "{format}": expected ".csv" or ".wav"')
