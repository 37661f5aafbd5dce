"""Reading capture files: validate them, measure them, and write their columnar copy.

Pure functions over files: no web framework, no database. The job runner calls ``measure`` on
an uploaded file and stores the returned ``Measurement`` and the columnar copy; readers of
sample data then use ``read_columnar``. A file that cannot be processed raises ``IngestError``
and nothing else (an ``OSError`` means the disk failed, not the file, and is left as it is so
the job can be retried). The formats read, and their suffixes and media types, are listed
once in ``capturehub.ingest.formats``.

``measure``, ``read_columnar`` and ``COLUMNAR_MEDIA_TYPE`` are imported on first use: they need
pyarrow, which the SDK and the CLI (users of ``formats``) must not pay for at import time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from capturehub.ingest.errors import IngestError
from capturehub.ingest.measurement import ChannelStatistics, Measurement

if TYPE_CHECKING:
    from capturehub.ingest.columnar import COLUMNAR_MEDIA_TYPE, read_columnar
    from capturehub.ingest.reading import measure

__all__ = [
    "COLUMNAR_MEDIA_TYPE",
    "ChannelStatistics",
    "IngestError",
    "Measurement",
    "measure",
    "read_columnar",
]

_LAZY = {
    "COLUMNAR_MEDIA_TYPE": "capturehub.ingest.columnar",
    "read_columnar": "capturehub.ingest.columnar",
    "measure": "capturehub.ingest.reading",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
