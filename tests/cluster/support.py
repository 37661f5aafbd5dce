"""Real pieces of a capturehub cluster for tests: Redis (the machine's, on a database number of
our own, or a ``redis-server`` process of our own that a test may stop and start), and
``capturehub worker`` processes.

Redis tests skip with the reason when no Redis answers, except under
CAPTUREHUB_REQUIRE_SERVICES=1 (set by .ci/run), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.servers import REQUIRE_SERVICES, ServerProcess, free_port


def _suite_redis_url() -> str:
    """Database 11 of the machine's Redis is this suite's; only it is ever flushed. The suite
    runs in parallel processes (pytest-xdist: PYTEST_XDIST_WORKER is gw0, gw1, ...), and
    each gets its own database from 11 up, so that one's flush never empties another's queue."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    number = 11 + int(worker.removeprefix("gw") or 0)
    return f"redis://127.0.0.1:6379/{number}"


REDIS_URL = os.environ.get("CAPTUREHUB_TEST_REDIS_URL") or _suite_redis_url()
QUEUE = "capturehub"


def require_redis(url: str = REDIS_URL) -> None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        reason = f"Redis not reachable at {url}: {exc}"
        if REQUIRE_SERVICES:
            pytest.fail(f"{reason} (CAPTUREHUB_REQUIRE_SERVICES=1)")
        pytest.skip(reason)


def fresh_redis(url: str = REDIS_URL) -> redis.Redis:
    """A client of ``url``'s database, emptied (only that database)."""
    require_redis(url)
    client = redis.Redis.from_url(url)
    client.flushdb()
    return client


def waiting_messages(client: redis.Redis) -> int:
    """Jobs in the queue that no worker has taken yet."""
    return int(client.llen(QUEUE))


def taken_messages(client: redis.Redis) -> int:
    """Jobs a worker has taken and not acknowledged yet."""
    return int(client.hlen("unacked"))


class OwnRedis:
    """A ``redis-server`` of this test on a free port, without persistence (a restart loses
    its messages, the worst case), that the test may stop and start again."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            reason = "redis-server is not installed"
            if REQUIRE_SERVICES:
                pytest.fail(f"{reason} (CAPTUREHUB_REQUIRE_SERVICES=1)")
            pytest.skip(reason)
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with open(self.directory / "redis.log", "ab") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.directory),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=1).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@dataclass
class WorkerProcess:
    """A ``capturehub worker`` on the settings of ``server`` (database, data folder) and
    ``broker_url``."""

    server: ServerProcess
    broker_url: str
    name: str = "worker"
    concurrency: int = 1
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.server.data_dir / f"{self.name}.log"

    def start(self, **extra_env: str) -> None:
        self.env.update(extra_env)
        env = self.server.settings_env()
        env["CAPTUREHUB_BROKER_URL"] = self.broker_url
        env.update(self.env)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "capturehub.cli.main",
                    "worker",
                    "--concurrency",
                    str(self.concurrency),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no message returned, the lease left to expire."""
        self.stop(signal.SIGKILL)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log(self) -> str:
        if self.log_path.exists():
            return self.log_path.read_text(errors="replace")[-5000:]
        return ""


def wait_for(check: Any, what: str, timeout: float = 120) -> Any:
    """Poll ``check()`` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


def capture_state(api: httpx.Client, project_uuid: str, capture_uuid: str) -> str:
    response = api.get(f"project/{project_uuid}/capture/{capture_uuid}/")
    response.raise_for_status()
    return str(response.json()["task_state"])


def long_csv(path: Path, source: Path, copies: int) -> Path:
    """A large CSV made of a real recording's rows repeated ``copies`` times (long enough to
    be caught mid-processing)."""
    lines = source.read_text().splitlines()
    header, rows = lines[0], "\n".join(lines[1:]) + "\n"
    with open(path, "w") as out:
        out.write(header + "\n")
        for _ in range(copies):
            out.write(rows)
    return path
