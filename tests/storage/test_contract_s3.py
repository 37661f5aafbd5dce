"""The blob store contract (contract.py) on S3: a real SeaweedFS on loopback, a fresh prefix
of one bucket per test."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from capturehub.storage import BlobNotFound, BlobStore
from capturehub.storage.s3 import (
    BLOB_CONTENT_TYPE,
    PART_SIZE,
    TRANSFER_MAX_CONCURRENCY,
    TRANSFER_MAX_IO_QUEUE,
    S3BlobStore,
)
from tests.s3server import SeaweedFS, require_loopback
from tests.storage.contract import BlobStoreContract


@pytest.fixture(scope="module")
def bucket(seaweedfs: SeaweedFS) -> str:
    return seaweedfs.new_bucket()


def s3_store(seaweedfs: SeaweedFS, bucket: str, scratch: Path) -> S3BlobStore:
    require_loopback(seaweedfs.endpoint_url)
    return S3BlobStore(
        bucket,
        f"lab-{uuid.uuid4().hex[:8]}",
        client=seaweedfs.client(),
        scratch_dir=scratch,
    )


class TestS3BlobStore(BlobStoreContract):
    @pytest.fixture
    def store(self, seaweedfs: SeaweedFS, bucket: str, tmp_path: Path) -> BlobStore:
        return s3_store(seaweedfs, bucket, tmp_path / "scratch")


def test_a_large_blob_goes_up_in_parts_and_only_appears_whole(
    seaweedfs: SeaweedFS, bucket: str, tmp_path: Path
) -> None:
    store = s3_store(seaweedfs, bucket, tmp_path)
    key = "captures/p/c/original-big"
    block = bytes(range(256)) * 4096  # 1 MiB
    writer = store.writer(key)
    for _ in range(PART_SIZE * 2 // len(block) + 3):  # two full parts and a short last one
        writer.write(block)
    assert not store.exists(key)
    (upload,) = store.unfinished_uploads()
    assert upload[0] == store.object_key(key)
    writer.commit()
    assert store.unfinished_uploads() == []
    total = (PART_SIZE * 2 // len(block) + 3) * len(block)
    assert store.size(key) == total
    start = PART_SIZE - 10  # a range across the parts' border
    assert store.read_range(key, start, start + 20) == (block * 20)[start % len(block) :][:20]


def test_every_request_carrying_bytes_says_they_are_an_opaque_blob(
    seaweedfs: SeaweedFS, bucket: str, tmp_path: Path
) -> None:
    # Without a type, SeaweedFS sniffs text (a CSV) and gzips it on the way in and out.
    store = s3_store(seaweedfs, bucket, tmp_path)
    sent: list[tuple[str, str]] = []

    def record(request: Any, event_name: str, **_: Any) -> None:
        ctype = request.headers.get("Content-Type") or ""
        text = ctype.decode() if isinstance(ctype, bytes) else str(ctype)  # bytes once prepared
        sent.append((event_name.rsplit(".", 1)[-1], text))

    store.client.meta.events.register("before-send.s3", record)
    text = b"timestamp,x,y,z\n" + b"0.01,1.5,2.5,3.5\n" * (PART_SIZE // 17 + 1000)
    writer = store.writer("captures/p/c/original-csv")
    writer.write(text)
    writer.commit()
    source = tmp_path / "columnar.arrow"
    source.write_bytes(text)
    store.put_file("captures/p/c/columnar.arrow", source)

    carrying = [
        ctype
        for operation, ctype in sent
        if operation in {"CreateMultipartUpload", "UploadPart", "PutObject"}
    ]
    assert len(carrying) >= 4, sent  # two creations, two parts at least
    assert all(ctype == BLOB_CONTENT_TYPE for ctype in carrying), sent
    for key in ("captures/p/c/original-csv", "captures/p/c/columnar.arrow"):
        head = store.client.head_object(Bucket=bucket, Key=store.object_key(key))
        assert head["ContentType"] == BLOB_CONTENT_TYPE
        assert b"".join(store.read(key)) == text


def test_whole_file_transfers_are_bounded_and_keep_the_bytes(
    seaweedfs: SeaweedFS, bucket: str, tmp_path: Path
) -> None:
    # boto3's default (10 threads, 100 queued chunks) let a worker's memory grow by tens of
    # MB per transfer; every whole-file transfer must carry the store's bounds.
    store = s3_store(seaweedfs, bucket, tmp_path)
    configs: list[Any] = []
    for name in ("upload_file", "download_file"):
        original = getattr(store.client, name)

        def recording(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            configs.append(kwargs.get("Config"))
            return _original(*args, **kwargs)

        setattr(store.client, name, recording)
    data = bytes(range(256)) * (2 * PART_SIZE // 256 + 1001)  # a multipart upload and GET
    source = tmp_path / "columnar.arrow"
    source.write_bytes(data)
    store.put_file("captures/p/c/columnar.arrow", source)
    with store.local_copy("captures/p/c/columnar.arrow") as copy:
        assert copy.read_bytes() == data
    assert len(configs) == 2
    for config in configs:
        assert config.max_concurrency == TRANSFER_MAX_CONCURRENCY
        assert config.max_io_queue == TRANSFER_MAX_IO_QUEUE


def test_stores_with_other_prefixes_in_one_bucket_do_not_see_each_other(
    seaweedfs: SeaweedFS, bucket: str, tmp_path: Path
) -> None:
    first = s3_store(seaweedfs, bucket, tmp_path / "a")
    second = s3_store(seaweedfs, bucket, tmp_path / "b")
    writer = first.writer("captures/p/c/x")
    writer.write(b"first's")
    writer.commit()
    assert list(second.list()) == []
    assert not second.exists("captures/p/c/x")
    with pytest.raises(BlobNotFound):
        second.size("captures/p/c/x")
    assert list(first.list()) == ["captures/p/c/x"]


def test_tests_refuse_an_endpoint_off_loopback() -> None:
    require_loopback("http://127.0.0.1:8333")
    require_loopback("http://[::1]:8333")
    require_loopback("http://localhost:8333")
    for url in ["http://s3.amazonaws.com", "http://10.0.0.5:8333", "https://example.com"]:
        with pytest.raises(ValueError, match="loopback"):
            require_loopback(url)
