"""The blob store contract (contract.py) on local disk, with the default scratch folder and
with the server's own (a folder beside the blobs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from capturehub.storage import BlobStore, LocalBlobStore
from tests.storage.contract import BlobStoreContract


class TestLocalBlobStore(BlobStoreContract):
    @pytest.fixture(params=["default scratch", "scratch beside the blobs"])
    def store(self, request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
        if request.param == "default scratch":
            return LocalBlobStore(tmp_path / "blobs")
        return LocalBlobStore(tmp_path / "blobs", scratch_dir=tmp_path / "scratch")


def test_keys_cannot_leave_the_store(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    for key in ["../outside", "captures/../../x", "/etc/passwd", "captures/a b", ""]:
        with pytest.raises(ValueError, match="invalid blob key"):
            store.writer(key)
