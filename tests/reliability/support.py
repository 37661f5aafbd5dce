"""Helpers shared by the reliability tests: the full/reduced switch, clients, process facts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers import ServerProcess

# The reduced form runs in CI; CAPTUREHUB_FULL_RELIABILITY=1 runs the long form (docs/security.md).
FULL = os.environ.get("CAPTUREHUB_FULL_RELIABILITY") == "1"

# Every path component a blob key may have (storage_keys.py): uuids and fixed words only.
BLOB_COMPONENT = re.compile(
    r"^(captures|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|original-[0-9a-f]{32}|(columnar|plot-pyramid)-[0-9a-f]{32}\.arrow)$"
)


def client(url: str, bearer: str | None = None, *, timeout: float = 120) -> httpx.Client:
    """A client that opens a new connection per request.

    After a 500 uvicorn closes the connection; a pooled client would then fail its next
    request with a transport error and hide which request was at fault.
    """
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return httpx.Client(
        base_url=url,
        headers=headers,
        timeout=timeout,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def proc_status_kib(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` memory field (VmHWM, VmRSS...) in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def server_pid(process: ServerProcess) -> int:
    assert process.process is not None, "the server is not running"
    return process.process.pid


def blob_files(data_dir: Path) -> list[Path]:
    """Every committed blob (temporary files excluded)."""
    root = data_dir / "blobs"
    return [p for p in root.rglob("*") if p.is_file() and ".tmp" not in p.relative_to(root).parts]


def temp_files(data_dir: Path) -> list[Path]:
    folder = data_dir / "blobs" / ".tmp"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def bad_blob_paths(data_dir: Path) -> list[str]:
    """Blob paths with a component that is not a generated key part (a name leaking in)."""
    root = data_dir / "blobs"
    return [
        str(path.relative_to(root))
        for path in blob_files(data_dir)
        if not all(BLOB_COMPONENT.match(part) for part in path.relative_to(root).parts)
    ]


def run_fsck(process: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """``capturehub fsck`` as an operator runs it: a subprocess with the server's settings."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "capturehub.cli.main",
            "fsck",
            "--data-dir",
            str(process.data_dir),
            *args,
        ],
        env=process.settings_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def is_server_error(response: httpx.Response) -> bool:
    return response.status_code >= 500
