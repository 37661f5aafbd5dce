"""The old lab, built once for the module's tests (building it uploads and processes real
recordings through a real server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.moving.lab import OldLab, build
from tests.servers import new_server


@pytest.fixture(scope="module")
def old_lab(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OldLab]:
    workdir = tmp_path_factory.mktemp("old-lab")
    process = new_server("sqlite", workdir / "data")
    try:
        lab = build(process, shared_data, workdir)
        process.stop()  # as the move's instructions say: nothing writes to the old lab
        yield lab
    finally:
        process.close()
