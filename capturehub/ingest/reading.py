"""``measure``: read any capture file with its format's reader, behind one error type.

Kept apart from the package's ``__init__`` so that importing ``capturehub.ingest.formats`` (as
the SDK and the CLI do) never loads pyarrow: this module, and the readers, are imported on the
first ``measure``.
"""

from __future__ import annotations

import csv
import os
import struct
from pathlib import Path

import pyarrow as pa

from capturehub.ingest import formats
from capturehub.ingest.errors import IngestError
from capturehub.ingest.measurement import Measurement


def measure(source: Path, format: str, columnar_out: Path | None = None) -> Measurement:
    """Read, validate and measure ``source``; write its columnar copy to ``columnar_out``.

    ``format`` is the upload's suffix, one of ``formats.suffixes()`` such as ``".csv"`` (case
    and the dot are optional). The columnar copy appears at ``columnar_out`` only when the whole
    file was read successfully (it is written to a temporary name and renamed).
    """
    file_format = formats.by_suffix(format)
    if file_format is None:
        expected = " or ".join(f'"{suffix}"' for suffix in formats.suffixes())
        raise IngestError(f'unsupported format "{format}": expected {expected}')
    source = Path(os.fspath(source))
    out = Path(os.fspath(columnar_out)) if columnar_out is not None else None
    try:
        return file_format.read(source, out)
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
