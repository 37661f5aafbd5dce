"""``python -m capturehub.ingest FILE [COLUMNAR_OUT]``: measure one file by hand.

Prints the summary the server would store (or the error a person would see) and the time it
took, which makes this the quickest way to check a troublesome upload or to benchmark ingest.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from capturehub.ingest import IngestError, measure


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(argv[0])
    columnar_out = Path(argv[1]) if len(argv) == 2 else None
    started = time.perf_counter()
    try:
        measurement = measure(source, source.suffix, columnar_out)
    except IngestError as error:
        print(f"FAILURE: {error}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    print(json.dumps(measurement.to_summary(), indent=2))
    size = source.stat().st_size / 1e6
    print(f"{size:.1f} MB measured in {elapsed:.3f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
