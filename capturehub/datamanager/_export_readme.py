"""The README.md an export (``Project.export``, ``capturehub export``) writes beside the data:
what is there, the one-line loads, and how to make the same folder again."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from capturehub.datamanager.query import condition_text

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
    where: Mapping[str, Any],
    captures: int,
    samples: int,
    segments: int,
    channels: list[str],
    metadata_keys: list[str],
    example: str | None,
    example_file: str | None,
) -> str:
    """The README's text; ``where`` holds the export's filters (as for ``Captures.query``)."""
    table = "parquet" if fmt == "parquet" else "csv"
    options = _command_options(where)
    conditions = [
        f"state {value}" if key == "task_state" else condition_text(key, value) or f"{key}={value}"
        for key, value in where.items()
    ]
    selection = "where " + ", ".join(conditions) if conditions else "every processed capture"
    loads = _LOADS[fmt].format(
        example=json.dumps(example or "<capture name>"),
        example_file=json.dumps(example_file or "samples/<file>.npz"),
        channel=channels[0] if channels else "<channel>",
    )
    call = f"client.project.export('<folder>', format={fmt!r}" + (
        f", where={dict(where)!r})" if where else ")"
    )
    python = f"in Python, with `client.project = {project!r}`:\n\n    {call}\n"
    again = (
        f"Re-create this folder with:\n\n    capturehub export --project {_quote(project)} "
        f"--format {fmt} --out <folder>{options}\n\nor {python}"
        if options is not None
        else f"Re-create this folder {python}"
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

{again}"""


def _command_options(where: Mapping[str, Any]) -> str | None:
    """``--where``/``--state`` options for the filters, or None when the command line cannot
    say one of them (a filter on a capture's name, several states…)."""
    options = ""
    for key, value in where.items():
        if key == "task_state":
            if not isinstance(value, str):
                return None
            options += f" --state {value}"
            continue
        text = condition_text(key, value)
        if text is None:
            return None
        options += f" --where {_quote(text)}"
    return options


def _slice(fmt: str) -> str:
    if fmt == "npz":
        return "`np.load(file)[channel][start:end + 1]`"
    return "rows whose `sample` is between `start` and `end`"


def _quote(text: str) -> str:
    safe = all(ch.isalnum() or ch in "-_.,=/:" for ch in text)
    return text if safe else "'" + text.replace("'", "'\\''") + "'"
