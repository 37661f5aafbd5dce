"""Blobs as objects of an S3-compatible store (AWS S3, SeaweedFS, MinIO...), through boto3.

A writer is a multipart upload: parts of :data:`PART_SIZE` are sent as the bytes arrive (memory
stays at one part whatever the blob's size) and nothing is visible under the key until the
upload is completed by :meth:`_S3Writer.commit`; :meth:`_S3Writer.abort` aborts it. A crash
leaves an unfinished upload, which :meth:`S3BlobStore.sweep_temporary` finds (and aborts) like
the local store's temporary files.

Credentials and region come from boto3's usual chain (``AWS_ACCESS_KEY_ID``, profiles,
instance roles). Connection failures and the store's own 5xx answers, after boto3's retries,
raise :class:`~capturehub.storage.base.StoreUnavailable` (the server answers 503 with
Retry-After).
"""

from __future__ import annotations

import builtins
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from capturehub.storage.base import (
    BlobNotFound,
    BlobStore,
    BlobWriter,
    StoreMisconfigured,
    StoreUnavailable,
)

# S3's smallest part but the last is 5 MiB; 8 MiB parts keep a 20 GB upload far under the
# 10,000-part limit (80 GB) and memory at one part per upload in progress.
PART_SIZE = 8 * 1024 * 1024
CHUNK_SIZE = 1024 * 1024
# Every object is stored under this Content-Type, on each request that carries bytes (the
# upload's creation, each part, a whole put). Blobs are opaque to the store, and saying so
# matters: SeaweedFS sniffs an object without a type (or with the generic
# application/octet-stream), and gzips what looks like text (a CSV, a WAV) chunk by chunk on
# its way in and gunzips it on every read. Measured on a 2-core machine with a SeaweedFS on
# loopback: its CPU per MB of CSV written went from ~23 ms to ~9 ms and per MB read from ~9 ms
# to ~1.3 ms. Stores that do not transform objects keep them as they are either way.
BLOB_CONTENT_TYPE = "application/x-capturehub-blob"
# What boto3's managed transfers (put_file's upload_file, local_copy's download_file) may hold
# at once. Its default (10 threads, each with 8 MiB chunks in hand, and an IO queue of up to
# 100 chunks of 256 KiB waiting for the writer thread) made a worker's memory depend on how
# far its threads ran ahead: measured alone on a 300 MB file against a SeaweedFS on loopback,
# RssAnon grew 25 MB (upload) and 40-45 MB (download), more when a loaded machine slows the
# writer, and glibc kept an arena per thread. With 2 threads and 8 queued chunks it grew
# 0.3-1.3 MB at the same speed (upload 58-84 against 69-72 MB/s, download 270-300 against
# 275-291 MB/s): both ends share this machine's two cores, so more threads buy nothing here.
# A store across a network could use more concurrency for throughput, at ~8 MiB per thread.
TRANSFER_MAX_CONCURRENCY = 2
TRANSFER_MAX_IO_QUEUE = 8
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
# Refusals of the configuration, not of one request: waiting will not fix them.
_BAD_CREDENTIALS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "TokenRefreshRequired",
    "InvalidClientTokenId",
    "AuthorizationHeaderMalformed",
}
_NO_PERMISSION = {"AccessDenied", "AllAccessDisabled", "403", "Forbidden"}
_NO_BUCKET = {"NoSuchBucket"}
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_T = TypeVar("_T")


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return 0


def _unavailable(exc: BaseException) -> bool:
    """A store that cannot answer now (down, unreachable, overloaded), as opposed to a
    refused request (bad credentials, missing bucket) that waiting will not fix."""
    from botocore.exceptions import (
        ConnectionClosedError,
        EndpointConnectionError,
        ReadTimeoutError,
    )
    from botocore.exceptions import (
        ConnectTimeoutError as BotoConnectTimeout,
    )

    if isinstance(
        exc,
        EndpointConnectionError | ConnectionClosedError | ReadTimeoutError | BotoConnectTimeout,
    ):
        return True
    if _status(exc) >= 500 or _error_code(exc) in {"SlowDown", "ServiceUnavailable"}:
        return True
    # urllib3's errors surface as botocore.exceptions.HTTPClientError subclasses.
    from botocore.exceptions import HTTPClientError

    return isinstance(exc, HTTPClientError)


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix")."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"an S3 storage URL looks like s3://bucket/prefix, not {url!r}")
    if not _BUCKET_NAME.fullmatch(parts.netloc) or ".." in parts.netloc:
        raise ValueError(
            f"{parts.netloc!r} is not a valid S3 bucket name (3 to 63 lowercase letters, "
            "digits, dots and hyphens, starting and ending with a letter or digit)"
        )
    return parts.netloc, parts.path.strip("/")


def _error_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and its causes: boto3's transfers wrap the ClientError that says why."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def refusal(exc: BaseException, bucket: str, endpoint_url: str | None) -> str | None:
    """What the person running the server must correct, when ``exc`` is the store refusing
    this configuration (credentials, permissions, the bucket); else None."""
    from botocore.exceptions import (
        NoCredentialsError,
        ParamValidationError,
        PartialCredentialsError,
    )

    where = endpoint_url or "AWS S3"
    for cause in _error_chain(exc):
        if isinstance(cause, NoCredentialsError | PartialCredentialsError):
            return (
                f"no usable S3 credentials ({cause}): set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or give the machine an instance role)"
            )
        if isinstance(cause, ParamValidationError):
            return f"the object store request is not valid ({cause}): check CAPTUREHUB_STORAGE_URL"
        code = _error_code(cause)
        if code in _NO_BUCKET:
            return (
                f"the bucket {bucket!r} of CAPTUREHUB_STORAGE_URL does not exist at {where}: "
                "create it, or correct CAPTUREHUB_STORAGE_URL (or CAPTUREHUB_S3_ENDPOINT_URL)"
            )
        if code in _BAD_CREDENTIALS:
            return (
                f"{where} refused the S3 credentials ({code}): check AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) of this process"
            )
        if code in _NO_PERMISSION or _status(cause) == 403:
            return (
                f"{where} refused access to the bucket {bucket!r} ({code or 403}): check "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and that "
                "they may list, read, write and delete in the bucket"
            )
    return None


def make_client(endpoint_url: str | None = None, max_connections: int = 50) -> Any:
    """A boto3 S3 client; path-style addressing so that S3-compatible servers on a plain
    host:port work (AWS accepts it too)."""
    import boto3
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": "path"},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=max_connections,
        # Newer botocore adds CRC checksums that some S3-compatible servers reject.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


def transfer_config() -> Any:
    """The bounds of one managed transfer (:data:`TRANSFER_MAX_CONCURRENCY` threads,
    :data:`TRANSFER_MAX_IO_QUEUE` queued chunks); chunk sizes stay boto3's (8 MiB)."""
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        max_concurrency=TRANSFER_MAX_CONCURRENCY, max_io_queue=TRANSFER_MAX_IO_QUEUE
    )


def _typed_part(request: Any, **_: Any) -> None:
    request.headers["Content-Type"] = BLOB_CONTENT_TYPE


def declare_blob_type(client: Any) -> None:
    """Send :data:`BLOB_CONTENT_TYPE` with every part of a multipart upload made by
    ``client`` (S3's UploadPart takes no Content-Type parameter; CreateMultipartUpload and
    PutObject are given it as one). Idempotent."""
    client.meta.events.register(
        "before-sign.s3.UploadPart", _typed_part, unique_id="capturehub-blob-content-type"
    )


class _S3Writer(BlobWriter):
    def __init__(self, store: S3BlobStore, key: str) -> None:
        self._store = store
        self._key = store.object_key(key)
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._in_flight: Future[None] | None = None
        self._done = False
        # Started at once (not at the first full part) so that a crash mid-upload leaves a
        # trace the sweep can find, whatever the size written so far.
        self._upload_id: str = store._call(
            lambda: store.client.create_multipart_upload(
                Bucket=store.bucket, Key=self._key, ContentType=BLOB_CONTENT_TYPE
            )
        )["UploadId"]

    def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        while len(self._buffer) >= PART_SIZE:
            part = bytes(self._buffer[:PART_SIZE])
            del self._buffer[:PART_SIZE]
            # The part goes up in the background while the next one is received; at most
            # one in flight, so memory stays at two parts per upload.
            self._wait_for_part()
            number = len(self._parts) + 1
            self._in_flight = self._store.part_uploads.submit(self._send, part, number)

    def _wait_for_part(self) -> None:
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            in_flight.result()  # its error (store down...) is the writer's

    def _send(self, data: bytes, number: int) -> None:
        store = self._store
        answer = store._call(
            lambda: store.client.upload_part(
                Bucket=store.bucket,
                Key=self._key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=data,
            )
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def commit(self) -> None:
        self._wait_for_part()
        if self._buffer or not self._parts:  # the last part (may be small, even empty)
            self._send(bytes(self._buffer), len(self._parts) + 1)
            self._buffer = bytearray()
        store = self._store
        store._call(
            lambda: store.client.complete_multipart_upload(
                Bucket=store.bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        )
        self._done = True

    def abort(self) -> None:
        self._buffer = bytearray()
        with suppress(Exception):  # aborting anyway: a failed part changes nothing
            self._wait_for_part()
        if self._done:
            return
        self._done = True
        store = self._store
        store.abort_upload(self._key, self._upload_id)  # NoSuchUpload (aborted already) is fine


class S3BlobStore(BlobStore):
    """Blobs under ``prefix`` in ``bucket``; scratch files in ``scratch_dir`` on this machine
    (default: a folder of the system's temporary directory)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        scratch_dir: Path | None = None,
        upload_min_age_seconds: float = 0,
    ) -> None:
        self.bucket = bucket
        self.upload_min_age_seconds = upload_min_age_seconds
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.client = client if client is not None else make_client(endpoint_url)
        declare_blob_type(self.client)
        # Threads sending upload parts in the background (one part per writer at a time).
        self.part_uploads = ThreadPoolExecutor(max_workers=16, thread_name_prefix="s3-part")
        self.transfers = transfer_config()
        self.scratch_dir = (
            scratch_dir or Path(tempfile.gettempdir()) / "capturehub-scratch"
        ).resolve()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        endpoint_url: str | None = None,
        scratch_dir: Path | None = None,
        max_connections: int = 50,
        upload_min_age_seconds: float = 0,
    ) -> S3BlobStore:
        bucket, prefix = parse_s3_url(url)
        client = make_client(endpoint_url, max_connections)
        return cls(
            bucket,
            prefix,
            client=client,
            endpoint_url=endpoint_url,
            scratch_dir=scratch_dir,
            upload_min_age_seconds=upload_min_age_seconds,
        )

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def object_key(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"invalid blob key {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _blob_key(self, object_key: str) -> str:
        return object_key[len(self.prefix) + 1 :] if self.prefix else object_key

    def _call(self, request: Callable[[], _T], key: str = "") -> _T:
        """Run one request, translating "no such key", "store unreachable" and "store
        refusing this configuration"."""
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return request()
        except (ClientError, BotoCoreError, Boto3Error) as exc:
            cause = next(
                (c for c in _error_chain(exc) if isinstance(c, ClientError | BotoCoreError)), exc
            )
            if _error_code(cause) in _NOT_FOUND or _error_code(cause) == "NoSuchUpload":
                raise BlobNotFound(key) from exc
            refused = refusal(exc, self.bucket, self.endpoint_url)
            if refused is not None:
                raise StoreMisconfigured(refused) from exc
            if _unavailable(cause):
                raise StoreUnavailable(f"the object store did not answer: {exc}") from exc
            raise

    def check(self) -> None:
        """One HEAD of the bucket: raises :class:`StoreMisconfigured` naming the setting when
        the bucket is missing or the credentials are refused."""
        from botocore.exceptions import ClientError

        try:
            self._call(lambda: self.client.head_bucket(Bucket=self.bucket))
        except BlobNotFound as exc:  # a HEAD's 404 has no body, so no NoSuchBucket code
            raise StoreMisconfigured(
                refusal(
                    ClientError({"Error": {"Code": "NoSuchBucket"}}, "HeadBucket"),
                    self.bucket,
                    self.endpoint_url,
                )
                or "no such bucket"
            ) from exc

    def _head(self, key: str) -> dict[str, Any]:
        object_key = self.object_key(key)
        try:
            return self._call(
                lambda: self.client.head_object(Bucket=self.bucket, Key=object_key), key
            )
        except BlobNotFound:
            # A HEAD's 404 is the same for a missing object and a missing bucket: the rare
            # miss costs one more request to tell them apart.
            self.check()
            raise

    def writer(self, key: str) -> BlobWriter:
        return _S3Writer(self, key)

    def put_file(self, key: str, source: Path) -> None:
        # upload_file sends large files as a multipart upload: visible only when complete.
        object_key = self.object_key(key)
        self._call(
            lambda: self.client.upload_file(
                str(source),
                self.bucket,
                object_key,
                ExtraArgs={"ContentType": BLOB_CONTENT_TYPE},
                Config=self.transfers,
            ),
            key,
        )

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        object_key = self.object_key(key)
        if end is not None and end <= start:
            self._head(key)  # a missing blob is still an error for an empty range
            return iter(())
        span = f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"
        try:
            answer = self._call(
                lambda: self.client.get_object(Bucket=self.bucket, Key=object_key, Range=span),
                key,
            )
        except Exception as exc:
            if _error_code(exc.__cause__ or exc) == "InvalidRange":  # starts past the end
                return iter(())
            raise
        return self._chunks(answer["Body"])

    def _chunks(self, body: Any) -> Iterator[bytes]:
        try:
            while True:
                try:
                    chunk = body.read(CHUNK_SIZE)
                except Exception as exc:
                    if _unavailable(exc):
                        raise StoreUnavailable(
                            f"the object store stopped answering: {exc}"
                        ) from exc
                    raise
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()

    def read_range(self, key: str, start: int, end: int) -> bytes:
        """The bytes ``[start, end)`` in one piece (a ranged GET): for readers that seek."""
        return b"".join(self.read(key, start, end))

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
        except BlobNotFound:
            return False
        return True

    def modified_at(self, key: str) -> float:
        return float(self._head(key)["LastModified"].timestamp())

    def delete(self, key: str) -> None:
        object_key = self.object_key(key)
        self._call(lambda: self.client.delete_object(Bucket=self.bucket, Key=object_key), key)

    def list(self, prefix: str = "") -> Iterator[str]:
        full = self.object_key(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call(
            lambda: iter(paginator.paginate(Bucket=self.bucket, Prefix=full)), prefix
        )
        while True:
            page = self._call(lambda: next(pages, None), prefix)
            if page is None:
                return
            for item in page.get("Contents", []):
                yield self._blob_key(item["Key"])

    def list_sized(self, prefix: str = "") -> Iterator[tuple[str, int, float]]:
        """Every key under ``prefix`` with its size and modification time (one listing)."""
        full = self.object_key(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        paginator = self.client.get_paginator("list_objects_v2")
        pages = iter(paginator.paginate(Bucket=self.bucket, Prefix=full))
        while True:
            page = self._call(lambda: next(pages, None), prefix)
            if page is None:
                return
            for item in page.get("Contents", []):
                yield (
                    self._blob_key(item["Key"]),
                    int(item["Size"]),
                    float(item["LastModified"].timestamp()),
                )

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        self._head(key)
        with self.scratch_file(key.rsplit("/", 1)[-1]) as path:
            object_key = self.object_key(key)
            self._call(
                lambda: self.client.download_file(
                    self.bucket, object_key, str(path), Config=self.transfers
                ),
                key,
            )
            yield path

    def stored_path(self, key: str) -> Path | None:
        return None

    def free_space(self) -> int | None:
        return None  # object stores set no practical limit

    @contextmanager
    def scratch_file(self, name: str) -> Iterator[Path]:
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=self.scratch_dir))
        try:
            yield folder / name
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def unfinished_uploads(
        self, min_age_seconds: float = 0
    ) -> builtins.list[tuple[str, str, float]]:
        """Multipart uploads under this store's prefix begun at least ``min_age_seconds`` ago
        and neither completed nor aborted: (object key, upload id, started at)."""
        now = time.time()
        found: builtins.list[tuple[str, str, float]] = []
        paginator = self.client.get_paginator("list_multipart_uploads")
        prefix = f"{self.prefix}/" if self.prefix else ""
        pages = iter(paginator.paginate(Bucket=self.bucket, Prefix=prefix))
        while True:
            page = self._call(lambda: next(pages, None))
            if page is None:
                return found
            for upload in page.get("Uploads", []):
                started = float(upload["Initiated"].timestamp())
                if now - started >= min_age_seconds:
                    found.append((upload["Key"], upload["UploadId"], started))

    def abort_upload(self, object_key: str, upload_id: str) -> None:
        with suppress(BlobNotFound):
            self._call(
                lambda: self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=object_key, UploadId=upload_id
                )
            )

    def sweep_temporary(self, min_age_seconds: float, *, remove: bool) -> int:
        """Unfinished multipart uploads and scratch folders; an upload counts only once it
        is also ``upload_min_age_seconds`` old (the server uses a day: a large upload on a
        slow link is still in progress long after scratch files are stale)."""
        uploads = self.unfinished_uploads(max(min_age_seconds, self.upload_min_age_seconds))
        now = time.time()
        scratch: builtins.list[Path] = []
        if self.scratch_dir.is_dir():
            for path in self.scratch_dir.iterdir():
                try:
                    if now - path.stat().st_mtime >= min_age_seconds:
                        scratch.append(path)
                except FileNotFoundError:
                    continue
        if remove:
            for object_key, upload_id, _ in uploads:
                self.abort_upload(object_key, upload_id)
            for path in scratch:
                shutil.rmtree(path, ignore_errors=True)
        return len(uploads) + len(scratch)
