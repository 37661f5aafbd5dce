"""The cluster layout under faults: PostgreSQL + Redis + SeaweedFS (S3), two `capturehub serve`
(no processing threads) and two `capturehub worker`; real recordings uploaded through both
servers while one worker is SIGKILLed mid-job, Redis is restarted (losing its queue) and
SeaweedFS is stopped for 10 s.

Every capture a server acknowledged (201) ends SUCCESS, or FAILURE with the message its file
earns on its own; every download is byte-identical; `capturehub fsck` finds nothing; no request
is answered 500 (a store or broker that does not answer is a 503 with Retry-After, which the
uploading client retries).

In CI it runs reduced (a few dozen uploads); CAPTUREHUB_CLUSTER_FULL=1 runs 200.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from capturehub.ingest import IngestError, measure
from tests.cluster.support import (
    OwnRedis,
    WorkerProcess,
    capture_state,
    long_csv,
    wait_for,
)
from tests.conftest import require_backend, require_seaweedfs
from tests.s3server import SeaweedFS, start_seaweedfs
from tests.servers import Account, ServerProcess, create_postgres_database, drop_postgres_database

FULL = os.environ.get("CAPTUREHUB_CLUSTER_FULL") == "1"
UPLOADS = 200 if FULL else 36
QUICK = {"CAPTUREHUB_REQUEUE_INTERVAL_SECONDS": "1", "CAPTUREHUB_STALE_JOB_SECONDS": "5"}


@dataclass
class Cluster:
    servers: list[ServerProcess]
    workers: list[WorkerProcess]
    broker: OwnRedis
    store: SeaweedFS
    account: Account
    env: dict[str, str]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    require_backend("postgresql")
    require_seaweedfs()
    database_url = create_postgres_database()
    broker = OwnRedis(tmp_path / "redis")
    broker.start()
    store = start_seaweedfs(tmp_path / "seaweedfs")
    bucket = store.new_bucket()
    env = {
        **QUICK,
        **store.env(),
        "CAPTUREHUB_STORAGE_URL": f"s3://{bucket}/lab",
        "CAPTUREHUB_BROKER_URL": broker.url,
    }
    servers = [
        ServerProcess(
            backend="postgresql",
            data_dir=tmp_path / f"server-{index}",
            database_url=database_url,
            env=dict(env),
        )
        for index in (1, 2)
    ]
    workers = [
        WorkerProcess(servers[0], broker.url, name=f"worker-{index}", env=dict(env))
        for index in (1, 2)
    ]
    try:
        account = servers[0].create_account("lab-operator", "lab")
        for server in servers:
            server.start()
        yield Cluster(servers, workers, broker, store, account, env)
    finally:
        for worker in workers:
            worker.stop()
        for server in servers:
            server.stop()
        store.stop()
        broker.stop()
        drop_postgres_database(database_url)


@dataclass
class Client:
    """An uploading client that, like a person's script, retries a 503 (after Retry-After,
    here shortened) and records every status it was answered."""

    statuses: list[tuple[int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, api: httpx.Client, method: str, path: str, **kwargs: object) -> httpx.Response:
        for _ in range(200):
            try:
                response = api.request(method, path, **kwargs)  # type: ignore[arg-type]
            except httpx.TransportError:
                time.sleep(0.5)
                continue
            with self.lock:
                self.statuses.append((response.status_code, response.headers.get("Retry-After")))
            if response.status_code != 503:
                return response
            time.sleep(1)
        raise AssertionError(f"{method} {path}: still 503 after 200 tries")


def _recordings(shared_data: Path) -> list[Path]:
    files = sorted((shared_data / "watch" / "captures").glob("*.csv"))
    others = [
        shared_data / "daphnet" / "S06R02E0.csv",
        shared_data / "geneactiv" / "demo_data.csv",
        shared_data / "audio" / "BM003.wav",
        shared_data / "audio" / "deermouse-go.wav",
    ]
    # The odd ones early, so that the reduced run has them too.
    return others + files


def _expected(path: Path) -> str | None:
    """None when the file is measured, else the message it is refused with (on its own)."""
    try:
        measure(path, path.suffix.lstrip("."))
    except IngestError as exc:
        return str(exc)
    return None


def test_a_cluster_under_faults_keeps_every_acknowledged_capture(
    cluster: Cluster, shared_data: Path, tmp_path: Path
) -> None:
    client = Client()
    first, second = cluster.servers
    apis = [server.http(cluster.account, timeout=300) for server in cluster.servers]
    project = client.call(apis[0], "POST", "project/", json={"name": "cluster"}).json()["uuid"]

    # 1. A worker SIGKILLed mid-job: the only worker, caught while it processes a long file.
    recording = shared_data / "watch" / "captures" / "S01_0_ABD_007.csv"
    long_file = long_csv(tmp_path / "long.csv", recording, copies=600)
    killed, spare = cluster.workers
    killed.start()
    with open(long_file, "rb") as handle:
        created = client.call(
            apis[0],
            "POST",
            f"project/{project}/capture/",
            data={"name": "long.csv", "asynchronous": "True"},
            files={"file": ("long.csv", handle)},
        )
    assert created.status_code == 201, created.text
    acknowledged = {created.json()["uuid"]: long_file}
    wait_for(
        lambda: capture_state(apis[1], project, created.json()["uuid"]) == "STARTED",
        "the long file's job started",
    )
    killed.kill()
    spare.start()
    killed.start()  # as a supervisor would restart it

    # 2. Uploads through both servers, 4 at a time, while Redis restarts and S3 goes away.
    files = list(itertools.islice(itertools.cycle(_recordings(shared_data)), UPLOADS))
    done = threading.Semaphore(0)

    def send(index: int, path: Path) -> tuple[str, Path]:
        api = apis[index % 2]
        with open(path, "rb") as handle:
            answer = client.call(
                api,
                "POST",
                f"project/{project}/capture/",
                data={"name": f"{index:03d}-{path.name}", "asynchronous": "True"},
                files={"file": (path.name, handle)},
            )
        done.release()
        assert answer.status_code == 201, answer.text
        return str(answer.json()["uuid"]), path

    def faults() -> None:
        for _ in range(UPLOADS // 3):
            done.acquire()
        cluster.broker.stop()
        time.sleep(2)
        cluster.broker.start()  # empty: the queued jobs are lost, the rows are not
        for _ in range(UPLOADS // 3):
            done.acquire()
        cluster.store.stop()
        time.sleep(10)
        cluster.store.start()

    chaos = threading.Thread(target=faults)
    chaos.start()
    with ThreadPoolExecutor(4) as pool:
        for capture_uuid, path in pool.map(lambda item: send(*item), enumerate(files)):
            acknowledged[capture_uuid] = path
    chaos.join()

    # 3. Every acknowledged capture is processed, as its file deserves.
    expected = {path: _expected(path) for path in set(acknowledged.values())}

    def finished() -> list[dict[str, object]] | None:
        states = []
        for capture_uuid in acknowledged:
            answer = client.call(apis[0], "GET", f"project/{project}/capture/{capture_uuid}/")
            if answer.json()["task_state"] not in ("SUCCESS", "FAILURE"):
                return None
            states.append(answer.json())
        return states

    captures = wait_for(finished, "every capture processed", timeout=600)
    for capture in captures:
        path = acknowledged[str(capture["uuid"])]
        if expected[path] is None:
            assert capture["task_state"] == "SUCCESS", (path, capture)
        else:
            assert capture["task_state"] == "FAILURE", (path, capture)
            assert capture["task_result"] == expected[path], (path, capture)

    # 4. Every download is byte-identical, through either server.
    for index, (capture_uuid, path) in enumerate(acknowledged.items()):
        answer = client.call(
            apis[index % 2], "GET", f"project/{project}/capture/{capture_uuid}/file/"
        )
        assert answer.status_code == 200
        assert answer.content == path.read_bytes(), path

    # 5. Nothing lost, nothing left behind: no orphan object, no row without its object.
    # (Leftovers that only --repair clears may remain: the scratch file of the killed
    # worker, multipart uploads whose abort met the stopped store.)
    report = _fsck(first)
    for line in (
        "orphan blobs: 0",
        "captures missing their file: 0",
        "captures missing their columnar copy: 0",
        "projects whose capture count is wrong: 0",
    ):
        assert line in report, report
    _fsck(first, "--repair")
    assert "stale temporary files: 0" in _fsck(first)

    # 6. No 500 to anyone; every 503 said when to retry.
    print("answers:", Counter(status for status, _ in client.statuses))
    for api in apis:
        api.close()
    assert not [status for status, _ in client.statuses if status >= 500 and status != 503]
    assert all(after for status, after in client.statuses if status == 503)
    assert second.process is not None and second.process.poll() is None


def _fsck(server: ServerProcess, *options: str) -> str:
    """`capturehub fsck` of the cluster (database and S3, from the servers' settings)."""
    done = subprocess.run(
        [sys.executable, "-m", "capturehub.cli.main", "fsck", "--min-age", "0", *options],
        env=server.settings_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.stdout + done.stderr
