"""Streaming a stored file back, whole or by ``Range`` (RFC 9110 §14)."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from capturehub.ingest import formats as file_formats
from capturehub.server.captures import local_files
from capturehub.server.errors import error_response
from capturehub.server.settings import Settings
from capturehub.storage import BlobStore

# At most 19 digits: larger positions exceed any file (and int() of thousands of digits fails).
_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")


def media_type_of(capture_format: str) -> str:
    """The ``Content-Type`` of a stored original (bytes of unknown kind if the format is not
    one this server reads)."""
    file_format = file_formats.by_suffix(capture_format)
    if file_format is None:
        return "application/octet-stream"
    return file_format.download_media_type_for(capture_format)


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback and the exact UTF-8 name (RFC 6266, RFC 5987)."""
    fallback = "".join(
        char if 32 <= ord(char) < 127 and char not in '"\\/' else "_" for char in name
    )
    header = f'attachment; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """``(start, end_exclusive)`` for a satisfiable single range, None to send the whole
    file (no header, or a form we do not serve such as several ranges), "unsatisfiable"."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(size - length, 0), size
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if start >= size or end <= start:
        return "unsatisfiable"
    return start, end


def blob_response(
    blobs: BlobStore, key: str, *, media_type: str, filename: str, range_header: str | None
) -> Response:
    size = blobs.size(key)
    headers = {"Accept-Ranges": "bytes", "Content-Disposition": content_disposition(filename)}
    wanted = parse_range(range_header, size)
    if wanted == "unsatisfiable":
        headers["Content-Range"] = f"bytes */{size}"
        # The error shape, like every other refusal (RFC 9110 lets a 416 carry a body).
        return error_response(
            416,
            f"The range {range_header!r} is outside the file, which has {size} bytes; ask for "
            f"bytes 0-{max(size - 1, 0)} or leave the Range header out.",
            headers=headers,
        )
    if isinstance(wanted, tuple):
        start, end = wanted
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        headers["Content-Length"] = str(end - start)
        return StreamingResponse(
            blobs.read(key, start, end), status_code=206, media_type=media_type, headers=headers
        )
    headers["Content-Length"] = str(size)
    return StreamingResponse(blobs.read(key), media_type=media_type, headers=headers)


def original_file_response(
    request: Request,
    settings: Settings,
    blobs: BlobStore,
    blob_key: str,
    *,
    capture_format: str,
    name: str,
) -> Response:
    """A stored original as the client asked for it: where it lies, for a client on this
    machine that may read it there (whole files only), else its bytes, whole or by ``Range``.
    Raises :class:`~capturehub.storage.BlobNotFound` when the file is gone (the caller says
    why in its own words)."""
    range_header = request.headers.get("range")
    if range_header is None:
        located = local_files.location_response(request, settings, blobs, blob_key)
        if located is not None:
            return located
    return blob_response(
        blobs,
        blob_key,
        media_type=media_type_of(capture_format),
        filename=name,
        range_header=range_header,
    )
