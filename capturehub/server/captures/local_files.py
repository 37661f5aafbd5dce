"""Telling an SDK on the server's machine where a stored file lies, so that it reads the file
in place instead of over HTTP: ``get_data()`` memory-maps the columnar copy, ``download()``
copies the original with ``sendfile``.

Why: over loopback, 480 MB of samples take about 0.3 s just to cross the socket, more than the
SDK needs to build the whole DataFrame from a memory-mapped file (about 0.1 s), and Python's
HTTP stack moves a download at well under half the speed of ``cp``. The SDK asks with
``Accept: application/vnd.capturehub.local-file+json``. The location is offered only to
loopback clients, when the blob store keeps files on this machine and the
``local_data_access`` setting is on. It names the file's size, mtime, inode and device, so that
the SDK can tell it opened the very file the server means (not a same-named file of another
machine or container, nor a file the server has since replaced) and otherwise falls back to
HTTP. Stored files are never written in place (a new version is a new file, renamed in), so a
file that matches cannot change under the reader.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from capturehub.server.settings import Settings
from capturehub.storage import BlobNotFound, BlobStore

LOCAL_FILE_TYPE = "application/vnd.capturehub.local-file+json"
# The answer's shape, for the OpenAPI document of the routes that may give it.
LOCATION_CONTENT = {
    LOCAL_FILE_TYPE: {
        "schema": {
            "type": "object",
            "required": ["path", "size", "mtime_ns", "inode", "device"],
            "properties": {
                "path": {"type": "string"},
                "size": {"type": "integer"},
                "mtime_ns": {"type": "integer"},
                "inode": {"type": "integer"},
                "device": {"type": "integer"},
            },
        }
    }
}


def offered(request: Request, settings: Settings) -> bool:
    """True when this request may be answered with a location (see the module's docstring)."""
    if not settings.local_data_access:
        return False
    return wants_local_file(
        request.headers.get("accept"), request.client.host if request.client else None
    )


def wants_local_file(accept: str | None, client_host: str | None) -> bool:
    """True when the request asks for the file's location and comes from this machine."""
    if not accept or LOCAL_FILE_TYPE not in accept.lower() or not client_host:
        return False
    try:
        return ipaddress.ip_address(client_host).is_loopback
    except ValueError:  # not an IP address (e.g. a Unix socket's peer): not offered
        return False


def location(blobs: BlobStore, key: str) -> dict[str, Any] | None:
    """Where the blob lies and how to recognize it, or None if it is not in a file of this
    machine (the caller then sends it over HTTP). Raises BlobNotFound when it is gone."""
    path = blobs.stored_path(key)
    if path is None:
        return None
    try:
        status = os.stat(path)
    except FileNotFoundError as error:
        raise BlobNotFound(key) from error
    return {
        "path": str(path),
        "size": status.st_size,
        "mtime_ns": status.st_mtime_ns,
        "inode": status.st_ino,
        "device": status.st_dev,
    }


def location_response(
    request: Request, settings: Settings, blobs: BlobStore, key: str
) -> Response | None:
    """The location answer, when this request may have it and the blob is a local file."""
    if not offered(request, settings):
        return None
    found = location(blobs, key)
    return None if found is None else JSONResponse(found, media_type=LOCAL_FILE_TYPE)
