"""The resume rule: a file is uploaded unless the same file is already there.

"The same file" is a capture of the file's name whose content is the file's: the size and the
sha256 the server measured at upload equal the local file's. Such a file is skipped, so an
upload interrupted part-way is resumed by running it again. A capture of that name with other
content is a conflict: it is never overwritten. ``Captures.import_dataset``, ``capturehub
upload`` and ``capturehub demo`` upload by this rule; ``capturehub download`` applies it the
other way (a local file that is the capture's is not downloaded again).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from capturehub.exceptions import CaptureExistsError

if TYPE_CHECKING:
    from capturehub.datamanager.capture import Capture
    from capturehub.datamanager.captures import Captures

_HASH_CHUNK = 1 << 20

ResumeStatus = Literal["uploaded", "skipped", "conflict"]


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of the file at ``path`` (hex), read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def difference(path: str | os.PathLike[str], capture_info: Mapping[str, Any]) -> str | None:
    """None when the file at ``path`` holds exactly the capture's content (``capture_info``:
    the capture's fields as the server sent them), else why not, as a phrase ("has other
    content (…)"). The size is compared first, so a file of another size is not read.
    Raises OSError when the file cannot be read."""
    remote = capture_info.get("sha256")
    if not remote:
        return "cannot be compared (the server reports no sha256)"
    remote_size = capture_info.get("file_size")
    local_size = Path(path).stat().st_size
    if remote_size is not None and remote_size != local_size:
        return f"has other content ({remote_size} bytes on the server, {local_size} here)"
    local = file_sha256(path)
    if local != remote:
        return f"has other content (sha256 {str(remote)[:12]}… on the server, {local[:12]}… here)"
    return None


def same_file(path: str | os.PathLike[str], capture_info: Mapping[str, Any]) -> bool:
    """Whether the file at ``path`` holds exactly the capture's content (see ``difference``)."""
    return difference(path, capture_info) is None


@dataclass(frozen=True)
class Resumed:
    """What ``upload_unless_there`` did with one file.

    ``capture`` is the capture uploaded (``uploaded``), the one already there (``skipped``) or
    the one of other content holding the name (``conflict``, with ``why`` saying how it
    differs).
    """

    status: ResumeStatus
    capture: Capture
    why: str = ""


def upload_unless_there(
    captures: Captures,
    name: str,
    path: str | os.PathLike[str],
    *,
    existing: Capture | None,
    asynchronous: bool = True,
    capture_info: dict[str, Any] | None = None,
) -> Resumed:
    """Upload ``path`` as capture ``name`` unless the same file is already there.

    ``existing`` is the project's capture of that name when the caller listed one (one listing
    serves many files). A name taken meanwhile (a parallel run) is compared like one listed.
    Raises what ``create_capture`` raises otherwise, ``CaptureExistsError`` only when the name
    was taken, then freed, during the upload; OSError when the file cannot be read.
    """
    if existing is None:
        try:
            capture = captures.create_capture(
                name, path, asynchronous=asynchronous, capture_info=capture_info
            )
        except CaptureExistsError:
            found = captures.get_capture_by_filename(name)
            if found is None:
                raise
            existing = found
        else:
            return Resumed("uploaded", capture)
    why = difference(path, existing.capture_info)
    if why is None:
        return Resumed("skipped", existing)
    return Resumed("conflict", existing, why)
