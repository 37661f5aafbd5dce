"""Stream a server file to disk, resuming with ``Range`` when the connection drops.

The body goes to disk chunk by chunk (memory stays flat whatever the file size). The caller
passes a temporary path and renames it when this returns, so an interrupted or refused download
never leaves a file that looks complete, and an error answer is raised, never written.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from capturehub._transport.connection import Connection
from capturehub.exceptions import ServerUnreachableError

_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")


def download(connection: Connection, path: str, destination: Path) -> int:
    """Write the body of ``GET path`` to ``destination``; answer the number of bytes written."""
    written = 0
    attempt = 0
    with open(destination, "wb") as output:
        while True:
            headers = {"Range": f"bytes={written}-"} if written else None
            try:
                with connection.stream("GET", path, headers=headers) as response:
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


def _resumes_at(status: int, content_range: str | None, offset: int) -> bool:
    if status != 206 or content_range is None:
        return False
    match = _CONTENT_RANGE.fullmatch(content_range.strip())
    return match is not None and int(match.group(1)) == offset
