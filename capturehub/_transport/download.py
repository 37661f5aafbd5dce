"""Stream a server file to disk, resuming with ``Range`` when the connection drops.

The body goes to disk chunk by chunk (memory stays flat whatever the file size). The caller
passes a temporary path and renames it when this returns, so an interrupted or refused download
never leaves a file that looks complete, and an error answer is raised, never written.

On the server's machine the first request also accepts the file's location: the SDK then
copies the checked file itself, with the kernel's ``sendfile`` (as fast as ``cp``), and falls
back to HTTP when it cannot see that very file (see ``local_files.py``).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, BinaryIO

from capturehub._transport.connection import Connection
from capturehub._transport.local_files import (
    accepting_location,
    copy_descriptor,
    location_in,
    open_described,
)
from capturehub.exceptions import ServerUnreachableError

_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")


def download(connection: Connection, path: str, destination: Path) -> int:
    """Write the body of ``GET path`` to ``destination``; answer the number of bytes written."""
    written = 0
    attempt = 0
    with open(destination, "wb") as output:
        while True:
            headers = {"Range": f"bytes={written}-"} if written else {}
            if not written and connection.reads_local_files is not False:
                headers["Accept"] = accepting_location("*/*")
            try:
                with connection.stream("GET", path, headers=headers or None) as response:
                    location = location_in(response)
                    if location is None:
                        if written and not _resumes_at(
                            response.status_code, response.headers.get("content-range"), written
                        ):
                            output.seek(0)  # the server sent the whole file again: start over
                            output.truncate()
                            written = 0
                        for chunk in connection.iter_body(response):
                            output.write(chunk)
                            written += len(chunk)
                            if connection.progress is not None:
                                connection.progress(destination, written)
                        return written
            except ServerUnreachableError:
                if attempt >= connection.retry.retries:
                    raise
                time.sleep(connection.retry.delay(attempt))
                attempt += 1
                continue
            copied = _copy_in_place(connection, location, output, destination)
            # Remembered per connection: a client that cannot see the server's files (another
            # machine, a container) asks for the bytes directly from then on.
            connection.reads_local_files = copied is not None
            if copied is not None:
                return copied


def _copy_in_place(
    connection: Connection, location: Any, output: BinaryIO, destination: Path
) -> int | None:
    """Copy the located file into ``output``; None (and ``output`` emptied) when this process
    cannot read that very file, or it came out short."""
    opened = open_described(location)
    if opened is None:
        return None
    descriptor, size = opened
    progress = connection.progress

    def report(copied: int) -> None:
        if progress is not None:
            progress(destination, copied)

    try:
        complete = copy_descriptor(descriptor, size, output, report)
    finally:
        os.close(descriptor)
    if not complete:
        output.seek(0)
        output.truncate()
        return None
    return size


def _resumes_at(status: int, content_range: str | None, offset: int) -> bool:
    if status != 206 or content_range is None:
        return False
    match = _CONTENT_RANGE.fullmatch(content_range.strip())
    return match is not None and int(match.group(1)) == offset
