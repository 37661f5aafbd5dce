"""Jobs through Celery on Redis to ``capturehub worker`` processes (CAPTUREHUB_BROKER_URL):
an upload is processed by a worker in another process, never by the server; a job delivered
twice is harmless; a worker SIGKILLed mid-job loses nothing; a broker that does not answer
refuses uploads with a 503 the client may retry, and nothing is kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import select

from capturehub.cli.main import cli
from capturehub.server.fsck import fsck
from capturehub.server.models import Capture
from capturehub.tasks import Job, JobRegistry
from capturehub.tasks.celery_queue import CeleryQueue
from tests.cluster.support import (
    REDIS_URL,
    OwnRedis,
    WorkerProcess,
    capture_state,
    fresh_redis,
    long_csv,
    taken_messages,
    wait_for,
    waiting_messages,
)
from tests.conftest import require_backend
from tests.server.helpers import upload, wait_done
from tests.servers import Account, ServerProcess, new_server

# Quick housekeeping, and a dead worker's claim expires after 4 s (renewed every second).
QUICK = {"CAPTUREHUB_REQUEUE_INTERVAL_SECONDS": "1", "CAPTUREHUB_STALE_JOB_SECONDS": "4"}


@pytest.fixture
def cluster(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ServerProcess, Account, list[WorkerProcess]]]:
    """A server sending its jobs to Redis, and a list the test adds its workers to."""
    backend = getattr(request, "param", "sqlite")
    require_backend(backend)
    fresh_redis()
    process = new_server(backend, tmp_path / "server")
    process.env.update(QUICK)
    workers: list[WorkerProcess] = []
    try:
        account = process.create_account("operator", "lab")
        process.start(CAPTUREHUB_BROKER_URL=REDIS_URL)
        yield process, account, workers
    finally:
        for worker in workers:
            worker.stop()
        process.close()


def _worker(process: ServerProcess, workers: list[WorkerProcess], name: str) -> WorkerProcess:
    worker = WorkerProcess(process, REDIS_URL, name=name, env=dict(QUICK))
    workers.append(worker)
    worker.start()
    return worker


def _capture_id(process: ServerProcess, capture_uuid: str) -> int:
    context = process.context()
    try:
        with context.db.read() as session:
            capture_id = session.scalar(select(Capture.id).where(Capture.uuid == capture_uuid))
    finally:
        context.db.dispose()
    assert capture_id is not None
    return capture_id


@pytest.mark.parametrize("cluster", ["sqlite", "postgresql"], indirect=True)
def test_an_upload_is_processed_by_a_worker_process(
    cluster: tuple[ServerProcess, Account, list[WorkerProcess]], shared_data: Path
) -> None:
    process, account, workers = cluster
    source = shared_data / "daphnet" / "S06R02E0.csv"
    with process.http(account) as api:
        project = api.post("project/", json={"name": "gait"}).json()["uuid"]
        created = upload(api, project, source)
        assert created.status_code == 201, created.text
        capture = created.json()["uuid"]
        # The server runs no job itself: the job waits in Redis until a worker exists.
        client = _redis()
        assert waiting_messages(client) == 1
        assert capture_state(api, project, capture) == "SENT"

        _worker(process, workers, "worker-1")
        done = wait_done(api, project, capture, timeout=120)
        assert done["task_state"] == "SUCCESS", done
        assert done["number_samples"] == 7040
        downloaded = api.get(f"project/{project}/capture/{capture}/file/")
        assert downloaded.content == source.read_bytes()
    wait_for(lambda: waiting_messages(client) == taken_messages(client) == 0, "queue drained")


def test_a_job_delivered_twice_is_harmless(
    cluster: tuple[ServerProcess, Account, list[WorkerProcess]], shared_data: Path
) -> None:
    process, account, workers = cluster
    source = shared_data / "watch" / "captures" / "S01_0_FEL_028.csv"
    rows = len(source.read_text().splitlines()) - 1
    with process.http(account) as api:
        project = api.post("project/", json={"name": "twice"}).json()["uuid"]
        capture = upload(api, project, source).json()["uuid"]
        # The same message once more, as a broker may deliver it (a restored message, a
        # retry that raced its original): two workers take one each.
        sender = CeleryQueue(JobRegistry(), REDIS_URL, visibility_timeout=3600)
        sender.send(Job("process capture", {"capture_id": _capture_id(process, capture)}))
        client = _redis()
        assert waiting_messages(client) == 2
        _worker(process, workers, "worker-1")
        _worker(process, workers, "worker-2")
        done = wait_done(api, project, capture, timeout=120)
        wait_for(lambda: waiting_messages(client) == taken_messages(client) == 0, "both ran")
        assert done["task_state"] == "SUCCESS", done
        again = api.get(f"project/{project}/capture/{capture}/").json()
        assert again["number_samples"] == done["number_samples"] == rows
        assert again["last_modified"] == done["last_modified"]  # measured once
        assert api.get(f"project/{project}/capture/{capture}/file/").content == (
            source.read_bytes()
        )
    context = process.context()
    try:
        report = fsck(context, min_age_seconds=0)  # no second columnar copy left behind
    finally:
        context.db.dispose()
    assert report.clean, report


def test_a_worker_killed_mid_job_loses_nothing(
    cluster: tuple[ServerProcess, Account, list[WorkerProcess]],
    shared_data: Path,
    tmp_path: Path,
) -> None:
    process, account, workers = cluster
    recording = shared_data / "watch" / "captures" / "S01_0_ABD_007.csv"
    rows = len(recording.read_text().splitlines()) - 1
    source = long_csv(tmp_path / "long.csv", recording, copies=1000)
    first = _worker(process, workers, "worker-1")
    with process.http(account, timeout=300) as api:
        project = api.post("project/", json={"name": "killed"}).json()["uuid"]
        created = upload(api, project, source)
        assert created.status_code == 201, created.text
        capture = created.json()["uuid"]
        wait_for(lambda: capture_state(api, project, capture) == "STARTED", "job started")
        first.kill()
        # Killed mid-job: its claim stays until it expires, then the housekeeping (or the
        # broker, after the visibility timeout) gives the capture to another worker.
        assert capture_state(api, project, capture) == "STARTED"
        _worker(process, workers, "worker-2")
        done = wait_done(api, project, capture, timeout=240)
        assert done["task_state"] == "SUCCESS", done
        assert done["number_samples"] == 1000 * rows


def test_a_broker_that_does_not_answer_refuses_uploads_with_503(
    tmp_path: Path, shared_data: Path
) -> None:
    broker = OwnRedis(tmp_path / "redis")
    broker.start()
    process = new_server("sqlite", tmp_path / "server")
    worker = WorkerProcess(process, broker.url, env=dict(QUICK))
    source = shared_data / "audio" / "BM003.wav"
    try:
        account = process.create_account("operator", "lab")
        process.start(CAPTUREHUB_BROKER_URL=broker.url, **QUICK)
        with process.http(account) as api:
            project = api.post("project/", json={"name": "outage"}).json()["uuid"]
            broker.stop()
            refused = upload(api, project, source)
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == "5"
            assert "Retry" in refused.json()["detail"]
            # Nothing was kept, so the retry is a clean upload, not a duplicate; reading
            # needs no broker.
            listed = api.get(f"project/{project}/capture/")
            assert listed.status_code == 200
            assert listed.json() == []
            # A server (re)started while the broker is down starts all the same.
            process.stop()
            process.start()
            assert upload(api, project, source).status_code == 503

            broker.start()  # same port, empty (no persistence)
            created = upload(api, project, source)
            assert created.status_code == 201, created.text
            worker.start()
            done = wait_done(api, project, created.json()["uuid"], timeout=120)
            assert done["task_state"] == "SUCCESS", done
    finally:
        worker.stop()
        process.close()
        broker.stop()


def test_a_worker_without_a_broker_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAPTUREHUB_BROKER_URL", raising=False)
    result = CliRunner().invoke(cli, ["worker", "--data-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "CAPTUREHUB_BROKER_URL=redis://" in result.output


def _redis() -> redis.Redis:
    return redis.Redis.from_url(REDIS_URL)
