"""Stream a multipart upload straight into the blob store.

Starlette's ``request.form()`` spools a file part to a temporary file before the route sees
it, which writes every byte twice. Here the ``file`` part's bytes go from the socket into a
:class:`~capturehub.storage.BlobWriter` as they arrive, hashed and counted on the way, and the
size limit is enforced while streaming: memory stays flat whatever the file size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from starlette.requests import Request

from capturehub.server.errors import BadRequest, PayloadTooLarge
from capturehub.server.multipart_parts import PartCollector, multipart_parser
from capturehub.storage import BlobWriter

MAX_FIELD_BYTES = 64 * 1024
FILE_FIELD = "file"


@dataclass
class StoredFile:
    """The ``file`` part, written (not yet committed) to the blob store."""

    writer: BlobWriter
    filename: str
    size: int = 0
    sha256: str = ""


@dataclass
class UploadForm:
    fields: dict[str, str] = field(default_factory=dict)
    file: StoredFile | None = None


class _PartCollector(PartCollector):
    """Routes each part to a field buffer or the blob writer."""

    def __init__(self, open_file: Callable[[], BlobWriter], max_file_bytes: int) -> None:
        super().__init__()
        self.form = UploadForm()
        self._open_file = open_file
        self._max_file_bytes = max_file_bytes
        self._field_name: str | None = None
        self._field_buffer = bytearray()
        self._hash = hashlib.sha256()
        self._in_file = False

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._field_name = None
        self._field_buffer = bytearray()
        self._in_file = False

    def on_headers_finished(self) -> None:
        name, filename = self.disposition()
        if name == FILE_FIELD and filename is not None:
            if self.form.file is not None:
                raise BadRequest("Send one `file` part per request.")
            self._in_file = True
            self.form.file = StoredFile(
                writer=self._open_file(), filename=filename.decode("utf-8", "replace")
            )
        else:
            self._field_name = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._in_file:
            stored = self.form.file
            assert stored is not None
            stored.size += len(chunk)
            if stored.size > self._max_file_bytes:
                raise PayloadTooLarge(
                    f"The file is larger than this server's limit of {self._max_file_bytes} "
                    "bytes (setting CAPTUREHUB_MAX_UPLOAD_BYTES)."
                )
            self._hash.update(chunk)
            stored.writer.write(chunk)
        else:
            self._field_buffer += chunk
            if len(self._field_buffer) > MAX_FIELD_BYTES:
                raise BadRequest(f"The form field {self._field_name!r} is too long.")

    def on_part_end(self) -> None:
        if self._in_file:
            assert self.form.file is not None
            self.form.file.sha256 = self._hash.hexdigest()
            self._in_file = False
        elif self._field_name:
            try:
                text = self._field_buffer.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(
                    f"The form field {self._field_name!r} is not valid UTF-8 text."
                ) from None
            self.form.fields[self._field_name] = text


async def read_upload(
    request: Request, open_file: Callable[[], BlobWriter], max_file_bytes: int
) -> UploadForm:
    """Parse a multipart body, streaming its ``file`` part into ``open_file()``.

    On any error the partly written file is aborted, so nothing is left in the store.
    """
    collector = _PartCollector(open_file, max_file_bytes)
    parser = multipart_parser(
        request,
        collector,
        "Send the capture as multipart/form-data with a `file` part and a `name` field.",
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        _abort(collector.form)
        raise BadRequest(f"The multipart body is malformed: {exc}") from exc
    except BaseException:  # incl. client disconnects and cancellation
        _abort(collector.form)
        raise
    if collector._in_file:  # the body ended inside the file part
        _abort(collector.form)
        raise BadRequest("The upload ended before the file part was complete.")
    return collector.form


def _abort(form: UploadForm) -> None:
    if form.file is not None:
        form.file.writer.abort()
