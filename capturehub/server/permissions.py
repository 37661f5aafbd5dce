"""The data directory is private to the user the server runs as: folders 0700, files 0600.

The database holds password hashes and every team's metadata, the blobs every recording; under
the usual umask 022 they were created readable by every local user. Commands that write the
data directory (``serve``, ``user``, ``apikey``, ``fsck``) set the process umask to
:data:`PRIVATE_UMASK` first, so whatever they create (SQLite's files, blobs, scratch files) is
private; ``capturehub fsck`` lists what is still readable by others (made before, or by
another program) and ``fsck --repair`` tightens it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
OTHERS = 0o077  # the group and other permission bits


def make_private() -> None:
    """From now on this process creates files 0600 and folders 0700."""
    os.umask(PRIVATE_UMASK)


def loose_paths(root: Path) -> list[Path]:
    """Files and folders under ``root`` (itself included) that its group or other users may
    read, write or enter. Symbolic links are not followed."""
    if not root.is_dir():
        return []
    found = []
    for path in [root, *root.rglob("*")]:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:  # deleted meanwhile (a running server's scratch file)
            continue
        if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & OTHERS:
            found.append(path)
    return found


def tighten(paths: list[Path]) -> None:
    """Take the group's and others' permissions away, keeping the owner's."""
    for path in paths:
        try:
            path.chmod(stat.S_IMODE(path.lstat().st_mode) & ~OTHERS)
        except FileNotFoundError:
            continue
