"""Shared fixtures for the ingest tests: the real data folder and small file builders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import capturehub.ingest.csvfile as ingest_csv

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real recordings beside the checkout; a missing folder fails (never skips)."""
    if not (DATA_DIR / "watch" / "captures").is_dir():
        pytest.fail(
            f"the shared test data is missing: expected it at {DATA_DIR} "
            "(the folder shared/data beside the repository checkout)"
        )
    return DATA_DIR


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, bytes], Path]:
    def write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Cut CSVs into tiny blocks so small files exercise the multi-block paths."""
    monkeypatch.setattr(ingest_csv, "BLOCK_BYTES", 256)
    monkeypatch.setattr(ingest_csv, "FIRST_BLOCK_BYTES", 64)
    return 256
