"""CAPTUREHUB_STORAGE_URL picks the blob store: the data directory's folder by default, another
folder with file:///..., S3 with s3://bucket/prefix; anything else stops the server."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from capturehub.server.runtime import UNFINISHED_UPLOAD_AGE_SECONDS, build_blob_store
from capturehub.server.settings import Settings
from capturehub.storage import LocalBlobStore
from capturehub.storage.s3 import S3BlobStore


def test_the_default_is_the_data_directory_s_folder(tmp_path: Path) -> None:
    store = build_blob_store(Settings(data_dir=tmp_path))
    assert isinstance(store, LocalBlobStore) and store.root == (tmp_path / "blobs").resolve()


def test_a_file_url_names_another_folder(tmp_path: Path) -> None:
    store = build_blob_store(
        Settings(data_dir=tmp_path / "data", storage_url=(tmp_path / "elsewhere").as_uri())
    )
    assert isinstance(store, LocalBlobStore) and store.root == (tmp_path / "elsewhere").resolve()


def test_an_s3_url_names_a_bucket_and_prefix(tmp_path: Path) -> None:
    store = build_blob_store(
        Settings(
            data_dir=tmp_path,
            storage_url="s3://lab-recordings/capturehub/",
            s3_endpoint_url="http://127.0.0.1:8333",
        )
    )
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == ("lab-recordings", "capturehub")
    assert store.object_key("captures/p/c/original-1") == "capturehub/captures/p/c/original-1"
    assert store.scratch_dir == (tmp_path / "scratch").resolve()
    assert store.upload_min_age_seconds == UNFINISHED_UPLOAD_AGE_SECONDS
    assert store.free_space() is None and store.stored_path("captures/p/c/x") is None


@pytest.mark.parametrize("url", ["/srv/blobs", "s3:/bucket", "gs://bucket/x", "file://relative"])
def test_other_urls_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="file:///absolute/folder or s3://bucket/prefix"):
        Settings(data_dir=tmp_path, storage_url=url)
