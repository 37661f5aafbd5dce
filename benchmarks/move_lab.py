"""Moving a large lab with ``capturehub migrate``, interrupted once and continued.

    python -m benchmarks.move_lab                     # 100,000 captures, as the lookups section
    python -m benchmarks.move_lab --captures 10000 --segments 10000

The old lab is the lookups section's SQLite project (``--captures`` capture rows with five
metadata values each and ``--segments`` segments, inserted directly: their files do not
exist, as in that section) plus a folder of real recordings uploaded and processed through
the server (the 140 watch recordings with their metadata and segments, the audio and gait
files). It is moved to a new PostgreSQL database and a SeaweedFS bucket; the first run is
killed (SIGKILL) when it prints ``--interrupt-at`` (by default in the middle of the metadata
rows), the second continues it to the end. Then a server on the new places must answer the
recordings' list, samples and files as the old one did. Prints each run's output and the
figures for docs/performance.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.stats_bench import logged_in, seed_project
from tests.s3server import start_seaweedfs
from tests.servers import (
    ServerProcess,
    create_postgres_database,
    drop_postgres_database,
    new_server,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def upload_recordings(process: ServerProcess, api_key: str) -> None:
    from capturehub import Client

    with Client(server=process.url, api_key=api_key) as client:
        client.project = "recordings"
        report = client.project.captures.import_dataset(SHARED_DATA / "watch" / "manifest.json")
        assert report.ok, report
        client.project.captures.upload_many(
            [
                SHARED_DATA / "audio" / "deermouse-go.wav",
                SHARED_DATA / "audio" / "BM003.wav",
                SHARED_DATA / "daphnet" / "S06R02E0.csv",
            ],
            asynchronous=False,
        )
        deadline = time.monotonic() + 600
        while set(client.list_captures()["task_state"]) - {"SUCCESS", "FAILURE"}:
            assert time.monotonic() < deadline, "recordings not processed in 10 minutes"
            time.sleep(1)


def recordings_answers(url: str, api_key: str, downloads: Path) -> dict[str, Any]:
    """The recordings project as the SDK sees it: its list, every capture's samples (as a
    hash of their CSV form) and original file (as its sha256)."""
    from capturehub import Client

    seen: dict[str, Any] = {}
    with Client(server=url, api_key=api_key) as client:
        client.project = "recordings"
        listed = client.list_captures().sort_values("uuid").reset_index(drop=True)
        seen["list"] = listed.to_csv()
        for capture in client.project.captures.get_captures():
            data = capture.get_data().to_csv().encode()
            seen[f"{capture.uuid}/data"] = hashlib.sha256(data).hexdigest()
            path = capture.download(downloads / capture.uuid)
            seen[f"{capture.uuid}/file"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


def run_interrupted(command: list[str], env: dict[str, str], marker: str) -> tuple[float, str]:
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if marker in line:
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    if process.returncode != -signal.SIGKILL:
        raise SystemExit(f"the first run was not interrupted:\n{''.join(lines)}")
    return time.perf_counter() - started, "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=100_000)
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--interrupt-at", default="capture_metadata_value: 200000 rows")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="move-lab-", dir=args.workdir))
    process = new_server("sqlite", workdir / "old")
    database = ""
    seaweedfs = None
    moved: ServerProcess | None = None
    try:
        api = logged_in(process)
        seed_project(process, api, args.captures, args.segments)
        api.close()
        recorder = process.create_account("recorder", "bench")
        started = time.perf_counter()
        upload_recordings(process, recorder.api_key)
        print(f"recordings uploaded and processed in {time.perf_counter() - started:.1f} s")
        before = recordings_answers(process.url, recorder.api_key, workdir / "old-downloads")
        process.stop()
        database = create_postgres_database()
        seaweedfs = start_seaweedfs(workdir / "seaweedfs")
        storage = f"s3://{seaweedfs.new_bucket()}/lab"
        env = {**os.environ, **seaweedfs.env()}
        command = [
            sys.executable,
            "-m",
            "capturehub.cli.main",
            "migrate",
            "--data-dir",
            str(process.data_dir),
            "--to-database",
            database,
            "--to-storage",
            storage,
        ]
        print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC: capturehub {' '.join(command[4:])}")
        first_seconds, first = run_interrupted(command, env, args.interrupt_at)
        print(first[-2000:])
        print(f"first run killed after {first_seconds:.1f} s")
        started = time.perf_counter()
        second = subprocess.run(command, env=env, capture_output=True, text=True)
        second_seconds = time.perf_counter() - started
        print(second.stdout[-3000:], second.stderr[-3000:])
        if second.returncode != 0:
            raise SystemExit(f"the second run failed ({second.returncode})")
        print(f"second run: {second_seconds:.1f} s; both: {first_seconds + second_seconds:.1f} s")
        moved = ServerProcess(
            backend="postgresql",
            data_dir=workdir / "new",
            database_url=database,
            env={"CAPTUREHUB_STORAGE_URL": storage, **seaweedfs.env()},
        )
        moved.start()
        after = recordings_answers(moved.url, recorder.api_key, workdir / "new-downloads")
        differing = sorted(key for key in before if before[key] != after.get(key))
        print(
            f"the moved lab answers the recordings ({len(before)} answers) "
            + ("identically" if not differing and before.keys() == after.keys() else "DIFFERENTLY")
        )
        return 1 if differing else 0
    finally:
        if moved is not None:
            moved.stop()
        process.close()
        if database:
            drop_postgres_database(database)
        if seaweedfs is not None:
            seaweedfs.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
