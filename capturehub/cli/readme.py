"""The README.md ``capturehub export`` writes beside the data: layout and one-line loads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

_LOADS = {
    "parquet": """\
```python
import pandas as pd

samples = pd.read_parquet("samples.parquet")      # every sample; `capture` says whose
metadata = pd.read_parquet("metadata.parquet")    # one row per capture
segments = pd.read_parquet("segments.parquet")    # one row per labelled range
one = pd.read_parquet("samples.parquet", filters=[("capture", "==", {example})])
```

With pyarrow only: `pyarrow.parquet.read_table("samples.parquet")`.
""",
    "csv": """\
```python
import pandas as pd

samples = pd.read_csv("samples.csv")      # every sample; `capture` says whose
metadata = pd.read_csv("metadata.csv")    # one row per capture
segments = pd.read_csv("segments.csv")    # one row per labelled range
one = samples[samples.capture == {example}]
```
""",
    "npz": """\
```python
import numpy as np
import pandas as pd

metadata = pd.read_csv("metadata.csv")    # one row per capture; `file` is its .npz
segments = pd.read_csv("segments.csv")    # one row per labelled range
data = {{row.capture: np.load(row.file) for row in metadata.itertuples()}}
one = np.load({example_file})  # one array per channel: one["{channel}"]
```
""",
}

_SAMPLES = {
    "parquet": "`samples.parquet`: one row per sample of every capture: `capture` (its name), "
    "`sample` (the index in the capture, from 0), then one column per channel.",
    "csv": "`samples.csv`: one row per sample of every capture: `capture` (its name), "
    "`sample` (the index in the capture, from 0), then one column per channel.",
    "npz": "`samples/<file>.npz`: one file per capture, holding one array per channel "
    "(`np.load(path)[channel]`); `metadata.csv`'s `file` column says which file is which "
    "capture's.",
}


def export_readme(
    *,
    fmt: str,
    project: str,
    server: str,
    where: list[str],
    state: str | None,
    captures: int,
    samples: int,
    segments: int,
    channels: list[str],
    metadata_keys: list[str],
    example: str | None,
    example_file: str | None,
) -> str:
    table = "parquet" if fmt == "parquet" else "csv"
    conditions = [*where, *([f"state {state}"] if state else [])]
    selection = "where " + ", ".join(conditions) if conditions else "every processed capture"
    again = "".join(f" --where {_quote(w)}" for w in where) + (f" --state {state}" if state else "")
    loads = _LOADS[fmt].format(
        example=json.dumps(example or "<capture name>"),
        example_file=json.dumps(example_file or "samples/<file>.npz"),
        channel=channels[0] if channels else "<channel>",
    )
    return f"""\
# {project}: exported by capturehub

Exported from project `{project}` at {server} on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC
({selection}): {captures} captures, {samples} samples, {segments} segments.

## Load it (from this folder)

{loads}
## Files

- {_SAMPLES[fmt]}
  Channels: {", ".join(f"`{c}`" for c in channels) or "none"}.
- `metadata.{table}`: one row per capture: `capture`, {"`file`, " if fmt == "npz" else ""}`uuid`,
  `number_samples` (the rows of its samples), `sample_rate` (Hz, empty when unknown), then one
  column per metadata key: {", ".join(f"`{k}`" for k in metadata_keys) or "none"}.
- `segments.{table}`: one row per segment: `capture`, `label`, `value`, `start`, `end`.
  `start` and `end` are sample indices and **both are included**: the segment is
  `samples[start:end + 1]` of its capture ({_slice(fmt)}).

Re-create this folder with:

    capturehub export --project {_quote(project)} --format {fmt} --out <folder>{again}
"""


def _slice(fmt: str) -> str:
    if fmt == "npz":
        return "`np.load(file)[channel][start:end + 1]`"
    return "rows whose `sample` is between `start` and `end`"


def _quote(text: str) -> str:
    safe = all(ch.isalnum() or ch in "-_.,=/:" for ch in text)
    return text if safe else "'" + text.replace("'", "'\\''") + "'"
